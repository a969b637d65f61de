"""What a reply suggestion costs in tokens, and how much of each prompt a provider can cache.

A dozen sample mentions (different networks and departments) go through the drafting service
against the fake OpenAI-compatible server, which counts tokens as characters / 4 and reports as
cached the start a prompt shares with an earlier one, the way providers' prompt caches work. The
static prefix is the start every prompt shares (guide, tone notes, rules, examples, schema); the
goal is at least 80% of the prompt.

    python bench/prompt_cost.py [--mentions 12] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import add_json_option, write_rows  # noqa: E402
from bench.common import row as result_row  # noqa: E402
from bot.drafting import draft_replies  # noqa: E402
from bot.fakellm import FakeLlm, common_prefix, prompt_text  # noqa: E402
from bot.llm import LlmClient, LlmSettings, Usage  # noqa: E402
from prompts.render import PROMPT_VERSION  # noqa: E402
from tests.support import labelled_mention  # noqa: E402

SAMPLES = ROOT / "samples" / "brightwave-mentions.jsonl"
GOAL = 0.80


@dataclass(frozen=True)
class Row:
    id: str
    source: str
    department: str
    prompt: int
    cached: int
    completion: int
    drafts: int
    calls: int
    text: str  # the first call's prompt, to find the prefix all prompts share

    def per_draft(self) -> float:
        return (self.prompt + self.completion) / max(self.drafts, 1)


def pick(count: int) -> list[dict]:
    """Mentions that need a reply, taking a new department or network first."""
    records = [json.loads(line) for line in SAMPLES.read_text().splitlines() if line.strip()]
    wanted = [r for r in records if r["labels"]["needs_reply"]]
    chosen: list[dict] = []
    seen: set[str] = set()
    for record in wanted:
        keys = {record["labels"]["department"], record["source"]}
        if not keys <= seen:
            chosen.append(record)
            seen |= keys
    chosen += [r for r in wanted if r not in chosen]
    return chosen[:count]


def measure(records: list[dict], fake: FakeLlm) -> list[Row]:
    usage: list[Usage] = []
    settings = LlmSettings(openai_base_url=fake.url, openai_model="fake", llm_max_retries=0)
    llm = LlmClient(settings, on_usage=lambda *u: usage.append(Usage(*u)))
    rows = []
    for record in records:
        before = len(fake.completions())
        suggestions = draft_replies(labelled_mention(record), agent_initials="AB", llm=llm)
        calls = usage[before:]
        rows.append(
            Row(
                id=record["id"],
                source=record["source"],
                department=record["labels"]["department"],
                prompt=sum(u.prompt for u in calls),
                cached=sum(u.cached for u in calls),
                completion=sum(u.completion for u in calls),
                drafts=len(suggestions.drafts),
                calls=len(calls),
                text=prompt_text(fake.completions()[before].messages),
            )
        )
    return rows


def static_prefix(rows: list[Row]) -> int:
    """Tokens of the start every prompt shares."""
    first = rows[0].text
    return min(common_prefix(first, row.text) for row in rows[1:]) // 4 if len(rows) > 1 else 0


def report(rows: list[Row]) -> list[dict]:
    static = static_prefix(rows)
    head = ("mention", "network", "dept", "calls", "prompt", "static", "static%", "cached")
    head += ("completion", "drafts", "tok/draft")
    print(" | ".join(f"{h:>9}" for h in head))
    for row in rows:
        share = static / (row.prompt / row.calls)
        cells = (row.id, row.source, row.department, row.calls, row.prompt, static)
        cells += (f"{share:.0%}", row.cached, row.completion, row.drafts, f"{row.per_draft():.0f}")
        print(" | ".join(f"{c!s:>9}" for c in cells))
    return summarise(rows, static)


def summarise(rows: list[Row], static: int) -> list[dict]:
    prompt = statistics.mean(r.prompt / r.calls for r in rows)
    share, later = static / prompt, rows[1:]
    cached = sum(r.cached for r in later) / max(sum(r.prompt for r in later), 1)
    verdict = "met" if share >= GOAL else "MISSED"
    lines = [
        f"prompt version {PROMPT_VERSION}; tokens are characters / 4",
        f"prompt per call: {prompt:.0f} tokens, of which static prefix {static}",
        f"static prefix share: {share:.1%} (goal {GOAL:.0%}: {verdict})",
        f"cached share of prompts after the first: {cached:.1%}",
        f"tokens per suggestion: {statistics.mean(r.prompt + r.completion for r in rows):.0f}"
        f" ({statistics.mean(r.per_draft() for r in rows):.0f} per draft)",
        "uncached tokens per suggestion after the first: "
        f"{statistics.mean(r.prompt - r.cached + r.completion for r in later):.0f}",
    ]
    print("\n" + "\n".join(lines))
    per = statistics.mean(r.prompt + r.completion for r in rows)
    return [
        result_row(
            "Reply drafts (fake LLM)",
            f"static prompt prefix share; tokens per suggestion ({len(rows)} mentions)",
            f"{share:.1%}; {per:.0f} tokens",
            f"goal {GOAL:.0%}: {verdict}; cached after the first {cached:.1%}",
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mentions", type=int, default=12)
    add_json_option(parser)
    args = parser.parse_args()
    with FakeLlm("obedient") as fake:
        write_rows(args.json, report(measure(pick(args.mentions), fake)))


if __name__ == "__main__":
    main()
