"""The brand-voice guide and the reply-draft prompt, rendered from the files beside this module.

The prompt is built for prompt caching: everything that is the same for every mention (guide,
tone notes, rules, examples, output schema) comes first and is byte-identical from call to call;
what varies (parameters, then the mention) comes last. The mention is JSON-encoded inside a
labelled block, so that it reads as data and cannot close the block it sits in.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from escalation.drafts import (
    DRAFT_SET_SCHEMA,
    PLATFORM_NAMES,
    Draft,
    DraftRules,
    TemplateBook,
    intent_of,
    sign_off_for,
)

HERE = Path(__file__).resolve().parent
DEFAULT_GUIDE = HERE / "brightwave"
TEMPLATE_FILES = ("draft.system.md", "draft.user.md", "draft.retry.md")
GUIDE_FILES = ("voice.md", "departments.yaml", "examples.yaml", "templates.yaml")
SLOT = re.compile(r"\{\{(\w+)\}\}")
FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n(.*)\Z", re.S)

Messages = list[dict[str, str]]


class GuideError(ValueError):
    """A guide file is missing or malformed; the message names every problem."""


@dataclass(frozen=True)
class Guide:
    """One brand's voice: the guide's text, tone notes, examples, templates and hard rules."""

    brand: str
    version: str
    voice: str
    departments: Mapping[str, Mapping[str, str]]
    examples: tuple[Mapping[str, Any], ...]
    templates: TemplateBook
    rules: DraftRules
    prompt_version: str

    def department_name(self, key: str) -> str:
        return self.departments.get(key, {}).get("name", key)


@cache
def load_guide(directory: Path = DEFAULT_GUIDE) -> Guide:
    """The guide in `directory` (voice.md with front matter, departments.yaml, examples.yaml,
    templates.yaml), checked; a GuideError lists everything wrong."""
    meta, voice = _front_matter((directory / "voice.md").read_text(encoding="utf-8"))
    departments = _yaml(directory / "departments.yaml")
    examples = _yaml(directory / "examples.yaml")
    problems = [*_meta_problems(meta), *_department_problems(departments)]
    problems += _example_problems(examples)
    templates = _templates(_yaml(directory / "templates.yaml"), departments, problems)
    if problems:
        raise GuideError(f"{directory}: " + "; ".join(problems))
    return Guide(
        brand=str(meta["brand"]),
        version=str(meta["version"]),
        voice=voice.strip(),
        departments=departments,
        examples=tuple(examples),
        templates=templates,  # type: ignore[arg-type]
        rules=DraftRules.from_guide(meta),
        prompt_version=f"{meta['version']}+{_digest(directory)}",
    )


def _front_matter(text: str) -> tuple[dict[str, Any], str]:
    match = FRONT_MATTER.match(text.replace("\r\n", "\n"))
    if not match:
        raise GuideError("voice.md must start with a front matter block between --- lines")
    return yaml.safe_load(match.group(1)) or {}, match.group(2)


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _meta_problems(meta: Mapping[str, Any]) -> list[str]:
    problems = [f"voice.md: {key} is missing" for key in ("version", "brand") if not meta.get(key)]
    for key in ("handles", "domains", "banned_phrases", "holding_lines"):
        value = meta.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            problems.append(f"voice.md: {key} must be a list of strings")
    return problems


def _department_problems(departments: Any) -> list[str]:
    if not isinstance(departments, dict) or not departments:
        return ["departments.yaml: expected a mapping of department keys"]
    return [
        f"departments.yaml: {key} needs a name and a tone"
        for key, note in departments.items()
        if not isinstance(note, dict) or not note.get("name") or not note.get("tone")
    ]


def _example_problems(examples: Any) -> list[str]:
    if not isinstance(examples, list):
        return ["examples.yaml: expected a list"]
    problems = []
    for index, example in enumerate(examples):
        try:
            for draft in example["drafts"]:
                Draft.model_validate(draft)
            str(example["mention"]), str(example["department"]), str(example["platform"])
        except (KeyError, TypeError, ValidationError) as error:
            problems.append(f"examples.yaml: example {index + 1}: {error}")
    return problems


def _templates(data: Any, departments: Any, problems: list[str]) -> TemplateBook | None:
    try:
        book = TemplateBook.from_mapping(data or {})
    except (ValidationError, AttributeError) as error:
        problems.append(f"templates.yaml: {error}")
        return None
    missing = sorted(set(departments or ()) - set(book.departments))
    problems += [f"templates.yaml: no templates for {key}" for key in missing]
    return book


def _digest(directory: Path) -> str:
    """A hash of everything the model sees, so a changed word changes the version."""
    digest = hashlib.sha256()
    for path in [*(HERE / name for name in TEMPLATE_FILES), *(directory / n for n in GUIDE_FILES)]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


@cache
def _template(name: str) -> str:
    return (HERE / name).read_text(encoding="utf-8")


def _fill(template: str, values: Mapping[str, str]) -> str:
    missing = set(SLOT.findall(template)) - set(values)
    if missing:
        raise KeyError(f"no value for {sorted(missing)}")
    return SLOT.sub(lambda m: values[m.group(1)], template).strip()


def data_json(value: Any, *, indent: int | None = None) -> str:
    """JSON with < and > escaped, so that text inside cannot close or open a delimiter tag."""
    text = json.dumps(value, ensure_ascii=False, indent=indent, sort_keys=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e")


# --- the static part ---------------------------------------------------------------------


def system_prompt(guide: Guide, examples: Sequence[Mapping[str, Any]] | None = None) -> str:
    """The system message: the same bytes for every mention of a guide."""
    rules = guide.rules
    values = {
        "brand": guide.brand,
        "version": guide.version,
        "voice": guide.voice,
        "departments": _departments_text(guide),
        "banned": ", ".join(f'"{phrase}"' for phrase in rules.banned_phrases),
        "domains": ", ".join(rules.domains) or "none",
        "handles": ", ".join(f"@{handle}" for handle in sorted(rules.handles)),
        "holding_lines": "\n".join(f"   - {line}" for line in rules.holding_lines),
        "examples": _examples_text(guide.examples if examples is None else examples),
        "schema": json.dumps(DRAFT_SET_SCHEMA, ensure_ascii=False),
    }
    return _fill(_template("draft.system.md"), values)


def _departments_text(guide: Guide) -> str:
    return "\n".join(
        f"- {key} ({note['name']}): {note['tone']}" for key, note in guide.departments.items()
    )


def _examples_text(examples: Sequence[Mapping[str, Any]]) -> str:
    return "\n\n".join(_example_text(n, ex) for n, ex in enumerate(examples, start=1))


def _example_text(number: int, example: Mapping[str, Any]) -> str:
    platform = PLATFORM_NAMES.get(example["platform"], example["platform"])
    parameters = {"department": example["department"], "platform": platform}
    answer = {"drafts": [Draft.model_validate(d).model_dump() for d in example["drafts"]]}
    return (
        f"Example {number}. Parameters: {data_json(parameters)}\n"
        f"<untrusted_mention>\n{data_json({'text': example['mention']})}\n</untrusted_mention>\n"
        f"Answer: {data_json(answer)}"
    )


# --- the part that varies ----------------------------------------------------------------


def render_draft_prompt(
    guide: Guide,
    mention: Any,
    *,
    department: str,
    agent_initials: str,
    platform_limit: int | None = None,
    examples: Sequence[Mapping[str, Any]] | None = None,
) -> Messages:
    """Chat messages asking for drafts that answer `mention` (source, text, author_handle;
    optionally author_display_name, sentiment, priority, risks). `examples` replaces the
    guide's; pass the same ones every time or the cached prefix is lost."""
    user = _fill(
        _template("draft.user.md"),
        {
            "parameters": data_json(
                _parameters(guide, mention, department, agent_initials, platform_limit), indent=1
            ),
            "mention": data_json(_mention_data(mention), indent=1),
        },
    )
    return [
        {"role": "system", "content": system_prompt(guide, examples)},
        {"role": "user", "content": user},
    ]


def _parameters(
    guide: Guide, mention: Any, department: str, initials: str, limit: int | None
) -> dict[str, Any]:
    platform = str(mention.source)
    sentiment = getattr(mention, "sentiment", None)
    return {
        "department": department,
        "department_name": guide.department_name(department),
        "platform": PLATFORM_NAMES.get(platform, platform),
        "max_characters": limit or guide.rules.limits.get(platform, 280),
        "sign_off": sign_off_for(initials),
        "customer_handle": "@" + str(mention.author_handle).lstrip("@"),
        "sentiment": sentiment or "unknown",
        "intent": intent_of(sentiment),
        "priority": getattr(mention, "priority", None) or "unknown",
        "risks": list(getattr(mention, "risks", None) or []),
    }


def _mention_data(mention: Any) -> dict[str, Any]:
    return {
        "author_display_name": getattr(mention, "author_display_name", None) or "",
        "text": mention.text or "",
    }


def render_retry(messages: Messages, previous_answer: str, failures: Sequence[Any]) -> Messages:
    """`messages` plus the model's previous answer and what failed in it, as data: the prefix
    stays the same, so the retry is served mostly from the cache too."""
    note = _fill(_template("draft.retry.md"), {"failures": data_json(list(failures), indent=1)})
    return [
        *messages,
        {"role": "assistant", "content": previous_answer},
        {"role": "user", "content": note},
    ]


PROMPT_VERSION = load_guide().prompt_version
