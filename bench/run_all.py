"""Every benchmark, one after the other, and their figures as one markdown table.

Each benchmark runs as its own process (so that none inherits another's threads, servers or
memory) and hands back its rows as JSON; the table, with the machine it ran on, goes to
bench/RESULTS.md (a --quick run's to var/bench-quick.md, so that it never replaces the full
figures). What each benchmark prints is shown as it runs and kept in var/bench/<name>.log,
its rows in var/bench/<name>.json: with --only, the others' rows are taken from there, so
that one benchmark can be run again without running them all. Notes written by hand below
the NOTES marker of the results file are kept.

    python bench/run_all.py            the full suite (30 to 60 minutes)
    python bench/run_all.py --quick    the same, smaller, in a few minutes
    python bench/run_all.py --only surge replicas
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import POSTGRES_URL  # noqa: E402

NOTES = "<!-- notes: kept when the table above is written again -->"


@dataclass(frozen=True)
class Step:
    name: str
    script: str
    full: tuple[str, ...]
    quick: tuple[str, ...]
    postgres: bool = True  # takes --postgres URL

    def args(self, quick: bool) -> tuple[str, ...]:
        return self.quick if quick else self.full


STEPS = (
    Step("ack", "ack_latency.py", ("--samples", "500"), ("--samples", "50", "--concurrency", "50")),
    Step(
        "ack-sqlite",
        "ack_latency.py",
        ("--samples", "500", "--sqlite"),
        ("--samples", "50", "--concurrency", "50", "--sqlite"),
    ),
    Step("ingest", "ingest.py", ("--count", "2000"), ("--count", "300")),
    Step("surge", "surge_slack.py", (), ("--count", "1000", "--minutes", "1")),
    Step("replicas", "replicas.py", ("--cases", "300"), ("--cases", "30", "--lease", "10")),
    Step("deadlines", "deadlines.py", ("--cases", "1000000"), ("--cases", "20000")),
    Step("digest", "digest.py", ("--cases", "1000000"), ("--cases", "35000")),
    Step("detector", "surge.py", ("--count", "2000"), ("--count", "500")),
    Step("prompts", "prompt_cost.py", (), (), postgres=False),
)


@dataclass
class Outcome:
    step: Step
    seconds: float
    code: int
    rows: list[dict]
    started: str  # UTC
    load: str  # the load average as it started
    args: tuple[str, ...] | None = None  # as run (None: the step's, in results saved before)

    def command(self, quick: bool) -> str:
        return " ".join((self.step.script, *(self.args or self.step.args(quick))))

    def save(self, path: Path) -> None:
        data = {k: v for k, v in self.__dict__.items() if k != "step"}
        path.write_text(json.dumps(data, indent=1, ensure_ascii=False))

    @classmethod
    def saved(cls, step: Step, path: Path) -> Outcome | None:
        if not path.exists():
            return None
        return cls(step, **json.loads(path.read_text()))


def run(step: Step, quick: bool, postgres: str, logs: Path) -> Outcome:
    """The benchmark in a child process, its output shown and kept; its rows."""
    with tempfile.TemporaryDirectory() as folder:
        result = Path(folder) / "rows.json"
        command = [sys.executable, str(ROOT / "bench" / step.script)]
        command += [*step.args(quick), "--json", str(result)]
        command += ["--postgres", postgres] if step.postgres else []
        print(f"\n=== {step.name}: {' '.join(command[1:])}", flush=True)
        at, busy = f"{datetime.now(UTC):%Y-%m-%d %H:%M}", load()
        started = time.monotonic()
        with (logs / f"{step.name}.log").open("w") as log:
            child = subprocess.Popen(
                command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
            for line in child.stdout:
                sys.stdout.write(line)
                sys.stdout.flush()
                log.write(line)
            code = child.wait()
        seconds = time.monotonic() - started
        rows = json.loads(result.read_text()) if code == 0 and result.exists() else []
    print(f"=== {step.name}: {'done' if code == 0 else f'FAILED ({code})'} in {seconds:.0f} s")
    return Outcome(step, seconds, code, rows, at, busy, step.args(quick))


def machine(postgres: str) -> dict[str, str]:
    """What the figures were measured on."""
    info = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next(
        (line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), ""
    )
    memory = next(
        line for line in Path("/proc/meminfo").read_text().splitlines() if "MemTotal" in line
    )
    return {
        "CPU": cpu or platform.processor() or "unknown",
        "cores": str(os.cpu_count()),
        "RAM": f"{int(memory.split()[1]) / 1024 / 1024:.1f} GiB",
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "PostgreSQL": postgres_version(postgres),
        "SQLite": __import__("sqlite3").sqlite_version,
    }


def postgres_version(url: str) -> str:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SHOW server_version")).scalar()
    except Exception as exc:  # the suite still runs what needs no server
        return f"not reachable ({type(exc).__name__})"
    finally:
        engine.dispose()


def load() -> str:
    return " / ".join(f"{n:.2f}" for n in os.getloadavg())


def markdown(outcomes: list[Outcome], facts: dict, quick: bool) -> str:
    took = sum(o.seconds for o in outcomes)
    kind = "`--quick`: smaller sizes" if quick else "the full suite"
    first = min(o.started for o in outcomes)
    lines = [
        "# Benchmark results",
        "",
        f"Measured from {first} UTC by `bench/run_all.py` ({kind}; `make bench`), "
        f"{took / 60:.0f} minutes in all. What each benchmark does is in its file's docstring.",
        "",
        "| machine | |",
        "| --- | --- |",
        *(f"| {key} | {value} |" for key, value in facts.items()),
        "",
        f"The machine has {facts['cores']} cores, shared: other test suites were running on it "
        "at the same time (the load average as each benchmark started is below). Load "
        "generators, the fake Slack and the bot share those cores, so absolute figures are "
        "pessimistic; the baselines measured in the same run (bare Bolt, plain SQLAlchemy "
        "inserts, lookups by primary key) are the fair comparison.",
        "",
        "| benchmark | measure | result | baseline or check |",
        "| --- | --- | --- | --- |",
    ]
    for outcome in outcomes:
        for row in outcome.rows:
            cells = (row["bench"], row["measure"], row["result"], row["reference"])
            lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
        if outcome.code != 0:
            lines.append(
                f"| {outcome.step.script} | did not finish | exit code {outcome.code} | "
                f"see var/bench/{outcome.step.name}.log |"
            )
    lines += [
        "",
        "| benchmark | started (UTC) | took | load average then (1 / 5 / 15 min) |",
        "| --- | --- | --- | --- |",
        *(
            f"| {o.command(quick)} | {o.started} | {o.seconds / 60:.1f} min | {o.load} |"
            for o in outcomes
        ),
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes: a few minutes")
    parser.add_argument("--only", nargs="+", choices=[s.name for s in STEPS], default=None)
    parser.add_argument("--postgres", default=POSTGRES_URL)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or (ROOT / ("var/bench-quick.md" if args.quick else "bench/RESULTS.md"))
    logs = ROOT / "var" / "bench"
    logs.mkdir(parents=True, exist_ok=True)
    facts = machine(args.postgres)
    outcomes = []
    for step in STEPS:
        saved = logs / f"{'quick-' if args.quick else ''}{step.name}.json"
        if args.only is None or step.name in args.only:
            outcome = run(step, args.quick, args.postgres, logs)
            outcome.save(saved)
        else:
            outcome = Outcome.saved(step, saved)
        if outcome is not None:
            outcomes.append(outcome)
    text = markdown(outcomes, facts, args.quick)
    if out.exists() and NOTES in out.read_text():  # what people wrote about the figures
        text += "\n" + NOTES + out.read_text().split(NOTES, 1)[1]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"\n{text}\nwritten to {out}")
    if any(o.code for o in outcomes):
        sys.exit(1)


if __name__ == "__main__":
    main()
