"""Reply drafts, and the checks each one must pass before a person is asked to approve it.

Pure: no network, no LLM, no Slack. The brand-voice guide's hard rules live here as code, so that
neither a model nor instructions smuggled into a mention can talk a draft past them. A draft that
fails is still shown, with its problems as sentences, so that the person deciding sees why.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

PLATFORM_LIMITS: Mapping[str, int] = MappingProxyType(
    {"x": 280, "mastodon": 500, "bluesky": 300, "slack": 500}
)
PLATFORM_NAMES = {"x": "X", "mastodon": "Mastodon", "bluesky": "Bluesky", "slack": "Slack"}
INTENTS = ("complaint", "question", "praise")
MAX_DRAFTS = 3
SIGN_OFF_SLOT = "{sign_off}"


class Draft(BaseModel):
    """One suggested public reply."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    text: str = Field(min_length=1)
    tone: str = ""
    reason: str = ""
    flags: list[str] = Field(default_factory=list)


class DraftSet(BaseModel):
    """Two or three drafts for one mention, and where they came from."""

    drafts: list[Draft] = Field(min_length=1)
    origin: Literal["llm", "template"] = "llm"

    @field_validator("drafts")
    @classmethod
    def _at_most_three(cls, drafts: list[Draft]) -> list[Draft]:
        # A model that writes five is not wrong enough to lose all five.
        return drafts[:MAX_DRAFTS]


def _text(description: str) -> dict[str, str]:
    return {"type": "string", "description": description}


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    # Strict structured outputs want every property required and nothing else allowed.
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


DRAFT_SET_SCHEMA: dict[str, Any] = _object(
    {
        "drafts": {
            "type": "array",
            "minItems": 2,
            "maxItems": MAX_DRAFTS,
            "items": _object(
                {
                    "text": _text("The public reply, ending with the sign-off."),
                    "tone": _text("One or two words, e.g. empathetic, upbeat."),
                    "reason": _text("Why this draft suits the mention, one sentence."),
                    "flags": {
                        "type": "array",
                        "items": {"type": "string"},
                        "description": 'Notes for the agent, e.g. "needs Billing approval".',
                    },
                }
            ),
        }
    }
)


@dataclass(frozen=True)
class Problem:
    """One rule a draft breaks, as a sentence for a person."""

    rule: str
    message: str


@dataclass(frozen=True)
class DraftRules:
    """What the guide allows in public: the brand's handles and domains, banned phrases and, for
    legal matters, the only lines that may be said."""

    handles: frozenset[str]
    domains: tuple[str, ...]
    banned_phrases: tuple[str, ...]
    holding_lines: tuple[str, ...] = ()
    limits: Mapping[str, int] = field(default_factory=lambda: PLATFORM_LIMITS)
    legal_department: str = "legal"

    @classmethod
    def from_guide(cls, meta: Mapping[str, Any]) -> DraftRules:
        """Rules from the guide's front matter (handles, domains, banned_phrases,
        holding_lines)."""
        return cls(
            handles=frozenset(_bare(h) for h in meta.get("handles") or ()),
            domains=tuple(str(d).lower() for d in meta.get("domains") or ()),
            banned_phrases=tuple(meta.get("banned_phrases") or ()),
            holding_lines=tuple(meta.get("holding_lines") or ()),
        )


@dataclass(frozen=True)
class DraftContext:
    """What a draft is checked against: the mention it answers and who signs it."""

    platform: str
    mention_text: str
    customer_handle: str
    sign_off: str
    rules: DraftRules
    sentiment: str | None = None
    department: str = "care"

    @property
    def limit(self) -> int:
        return self.rules.limits.get(self.platform, min(self.rules.limits.values()))

    @property
    def is_complaint(self) -> bool:
        return self.sentiment == "negative"

    @cached_property
    def personal_data(self) -> list[tuple[str, str]]:
        return personal_data(self.mention_text)


def sign_off_for(initials: str) -> str:
    """`^AB` for an agent with initials AB."""
    cleaned = initials.strip().lstrip("^").upper()
    if not re.fullmatch(r"[A-Z]{1,4}", cleaned):
        raise ValueError(f"agent initials must be 1 to 4 letters, not {initials!r}")
    return "^" + cleaned


def context_for(
    mention: Any, *, rules: DraftRules, agent_initials: str, department: str | None = None
) -> DraftContext:
    """The checking context for a mention (anything with source, text and author_handle, and
    optionally sentiment and department, such as escalation.models.Mention)."""
    return DraftContext(
        platform=str(mention.source),
        mention_text=mention.text or "",
        customer_handle=mention.author_handle or "",
        sign_off=sign_off_for(agent_initials),
        rules=rules,
        sentiment=getattr(mention, "sentiment", None),
        department=department or getattr(mention, "department", None) or "care",
    )


# --- reading text ------------------------------------------------------------------------

QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "\u00a0": " "})
CONTRACTIONS = (
    (r"\bcan't\b", "can not"),
    (r"\bwon't\b", "will not"),
    (r"n't\b", " not"),
    (r"'re\b", " are"),
    (r"'ll\b", " will"),
    (r"'ve\b", " have"),
    (r"\b(it|that|there|what|this|here)'s\b", r"\1 is"),
    (r"\bi'm\b", "i am"),
    (r"apologiz", "apologis"),
)
SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def plain(text: str) -> str:
    """Lower case, straight quotes, contractions spelt out: one spelling for phrase rules."""
    text = text.translate(QUOTES).lower()
    for pattern, replacement in CONTRACTIONS:
        text = re.sub(pattern, replacement, text)
    return re.sub(r"\s+", " ", text).strip()


def _sentences(text: str) -> list[str]:
    return [s for s in SENTENCE_END.split(plain(text)) if s]


def _bare(handle: str) -> str:
    return handle.strip().lstrip("@").lower()


def _mask(value: str) -> str:
    # Problems are shown in Slack and sent back to the model: no need to spell the data out.
    return value[:2] + "…" if len(value) > 3 else "…"


# --- personal data -----------------------------------------------------------------------

EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
WEB_ADDRESS = re.compile(r"\b(?:https?://|www\.)\S+")
PHONE = re.compile(r"(?<![\w+])(?:\+44\s?(?:\(0\)\s?)?|0)\d(?:[\s-]?\d){8,9}(?!\d)")
ACCOUNT = re.compile(r"\b(?=(?:[a-z-]*\d){5})[a-z0-9][a-z0-9-]{4,}\b", re.I)
POSTCODE = re.compile(r"\b[a-z]{1,2}\d[a-z\d]?\s*\d[a-z]{2}\b", re.I)
STREET = re.compile(
    r"\b((?:[a-z][\w'-]*\s+){1,2})(road|rd|street|lane|avenue|crescent|terrace|gardens|grove|mews)\b",
    re.I,
)
NOT_STREET_NAMES = frozenset(
    "the a an my our your this that on in at of down up main high same busy whole side back "
    "from to by near every any one".split()
)
PERSONAL_KINDS = (
    ("email address", EMAIL),
    ("phone number", PHONE),
    ("postcode", POSTCODE),
    ("account number", ACCOUNT),
)


def personal_data(text: str) -> list[tuple[str, str]]:
    """(kind, value) for each email, phone number, postcode, account-like number and street
    name in `text`; a value inside one already found is not listed again."""
    text = WEB_ADDRESS.sub(" ", text)  # a link's path is not anyone's postcode
    found: list[tuple[str, str]] = []
    for kind, pattern in PERSONAL_KINDS:
        found += [(kind, m.group(0)) for m in pattern.finditer(text)]
    found += [("address", street) for street in _streets(text)]
    kept: list[tuple[str, str]] = []
    for kind, value in found:
        if not any(_compact(value) in _compact(other) for _, other in kept):
            kept.append((kind, value))
    return kept


def _streets(text: str) -> Iterable[str]:
    for match in STREET.finditer(text):
        words = match.group(1).split()
        while words and words[0].lower() in NOT_STREET_NAMES:
            words.pop(0)
        if words:
            yield " ".join([*words, match.group(2)])


def _compact(text: str) -> str:
    return re.sub(r"[\s().-]+", "", text.lower())


# --- the rules ---------------------------------------------------------------------------

COMPENSATION = re.compile(
    r"\b(?:refund\w*|credit(?:s|ed|ing)?|compensat\w*|reimburs\w*|money back|goodwill"
    r"|waive\w*|discount\w*|cover the cost\w*|pay (?:you|for))\b"
)
COMMITMENT = re.compile(
    r"\b(?:we|i|billing|the team|our team)\s+(?:will|shall|are going to|am going to|can|could"
    r"|would|have|are|am|is)\b(?! not)"
    r"|\byou (?:will|are going to|would|should|can) (?:get|receive|have|be)\b"
    r"|\b(?:is|are|has been|have been|will be|was|were) (?:fully )?(?:refunded|credited|applied"
    r"|processed|issued|added|waived|approved|on (?:its|their|the) way)\b"
    r"|\bguarantee\w*|\bpromise\w*|\bconfirm\w*|\bentitled\b"
)
FREE_OFFER = re.compile(
    r"\bfree (?:month|months|year|upgrade|service|of charge|line rental)\b"
    r"|\b(?:\d+|a|one|two|three|six|twelve) (?:\w+ )?months? (?:free|on us)\b|\bon the house\b"
)
LIABILITY = re.compile(
    r"\b(?:our|my) (?:fault|mistake|error|negligence)\b|\bliab(?:le|ility)\b|\bnegligen\w*"
    r"|\b(?:we|i) (?:are|were|am|was|have been) (?:entirely |fully )?(?:at fault|to blame)\b"
    r"|\b(?:we|i) (?:fully |freely )?(?:accept|admit|take|acknowledge)\w* (?:full |all "
    r"|complete |total )?(?:responsibility|the blame|blame|fault)\b"
    r"|\b(?:we|i) admit\b|\bwe (?:messed|screwed) up\b|\bthat is on us\b"
)
BLAME = re.compile(
    r"\b(?:your|their|his|her|[a-z]+'s) fault\b|\bblam(?:e|ed|es|ing)\b|\byou should have\b"
    r"|\bis (?:for|down to) (?:another|the other|a different) (?:team|department)\b"
)
HANDLE = re.compile(r"(?<![\w@.])@([\w-]+(?:\.[\w-]+)*(?:@[\w-]+(?:\.[\w-]+)+)?)")
URL = re.compile(
    r"\b(?:https?://|www\.)[^\s<>\"]+|\b(?:[a-z0-9-]+\.)+(?:com|net|org|io|ly|co|uk|me|app|info"
    r"|biz|xyz|ai|gg|to|social|example|dev|tv|shop|link|site|online|eu|de|fr|ie|us|cc)\b"
    r"(?:/[^\s<>\"]*)?",
    re.I,
)
SLACK_MARKUP = re.compile(r"<[@#!][^<>]*>|<(?:https?|mailto):[^<>]*>")
_PICTO = "[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\u2300-\u23ff]"
EMOJI = re.compile(
    f"[\U0001f1e6-\U0001f1ff]{{2}}|{_PICTO}(?:[\ufe0f\u200d\U0001f3fb-\U0001f3ff]+{_PICTO}?)*"
)


def _length(text: str, context: DraftContext) -> list[Problem]:
    if len(text) <= context.limit:
        return []
    where = PLATFORM_NAMES.get(context.platform, context.platform)
    return [
        Problem("length", f"It is {len(text)} characters; a reply on {where} fits {context.limit}.")
    ]


def _banned(text: str, context: DraftContext) -> list[Problem]:
    said = plain(text)
    return [
        Problem("banned_phrase", f'It says "{phrase}", which the brand-voice guide bans.')
        for phrase in context.rules.banned_phrases
        if re.search(_phrase_pattern(phrase), said)
    ]


def _phrase_pattern(phrase: str) -> str:
    # "Unfortunately, there's nothing..." is the phrase too: any punctuation between words.
    return r"\b" + r"\W+".join(re.escape(word) for word in plain(phrase).split()) + r"\b"


def _promise(text: str, _context: DraftContext) -> list[Problem]:
    for sentence in _sentences(text):
        term = COMPENSATION.search(sentence)
        found = FREE_OFFER.search(sentence) or (term if COMMITMENT.search(sentence) else None)
        if found:
            why = "refunds, credits and compensation are never promised in public"
            return [Problem("promise", f'It promises money or free service ("{found[0]}"); {why}.')]
    return []


Check = Callable[[str, DraftContext], list[Problem]]


def _said(rule: str, pattern: re.Pattern[str], why: str) -> Check:
    """A check that fails when `pattern` matches the draft's plain text; `why` holds {}."""

    def check(text: str, _context: DraftContext) -> list[Problem]:
        found = pattern.search(plain(text))
        return [Problem(rule, "It " + why.format(found[0]))] if found else []

    return check


def _handles(text: str, context: DraftContext) -> list[Problem]:
    customer = _bare(context.customer_handle)
    allowed = context.rules.handles | {customer, customer.split("@")[0]}
    strangers = [h for h in HANDLE.findall(text) if h.lower() not in allowed]
    if not strangers:
        return []
    names = ", ".join(f"@{h}" for h in dict.fromkeys(strangers))
    return [Problem("handle", f"It tags {names}; only the customer and our own accounts may be.")]


def _links(text: str, context: DraftContext) -> list[Problem]:
    without = EMAIL.sub(" ", HANDLE.sub(" ", text))
    foreign = [link for link in URL.findall(without) if not _own_link(link, context.rules)]
    if not foreign:
        return []
    names = ", ".join(dict.fromkeys(foreign))
    domains = ", ".join(context.rules.domains) or "none"
    return [Problem("link", f"It links to {names}; only our own sites ({domains}) may be linked.")]


def _own_link(link: str, rules: DraftRules) -> bool:
    host = re.sub(r"^(?:https?://)?(?:www\.)?", "", link.lower()).split("/")[0].split(":")[0]
    host = host.rstrip(".,;!?)")
    return any(host == domain or host.endswith("." + domain) for domain in rules.domains)


def _personal(text: str, context: DraftContext) -> list[Problem]:
    compact, lowered = _compact(text), " ".join(text.lower().split())
    problems = [
        Problem("personal_data", f"It repeats the customer's {kind} ({_mask(value)}) in public.")
        for kind, value in context.personal_data
        if (_compact(value) in compact if kind != "address" else value.lower() in lowered)
    ]
    echoed = {value for _, value in context.personal_data}
    for kind, value in personal_data(HANDLE.sub(" ", text)):  # a Mastodon handle is no email
        own = kind == "email address" and _own_link(value.split("@")[-1], context.rules)
        if kind in ("email address", "phone number") and value not in echoed and not own:
            problems.append(Problem("personal_data", f"It gives out a {kind} ({_mask(value)})."))
    return problems


def _emoji(text: str, context: DraftContext) -> list[Problem]:
    count = len(EMOJI.findall(text))
    if context.is_complaint and count:
        return [Problem("emoji", "It uses an emoji in reply to a complaint; none in complaints.")]
    if count > 1:
        return [Problem("emoji", f"It uses {count} emoji; the guide allows at most one.")]
    return []


def _sign_off(text: str, context: DraftContext) -> list[Problem]:
    if re.search(rf"(?:^|\s){re.escape(context.sign_off)}$", text.rstrip()):
        return []
    return [Problem("sign_off", f"It does not end with the agent's sign-off {context.sign_off}.")]


def _holding_line(text: str, context: DraftContext) -> list[Problem]:
    rules = context.rules
    if context.department != rules.legal_department or not rules.holding_lines:
        return []
    body = plain(text.rstrip().removesuffix(context.sign_off))
    if any(body == plain(line) for line in rules.holding_lines):
        return []
    return [
        Problem(
            "holding_line",
            "Legal matters get only an approved holding line, word for word; this says more.",
        )
    ]


CHECKS: tuple[Check, ...] = (
    _length,
    _sign_off,
    _banned,
    _promise,
    _said("liability", LIABILITY, 'admits liability ("{}"); own the problem, never admit fault.'),
    _said("blame", BLAME, 'blames someone ("{}"); never the customer, a supplier or a team.'),
    _handles,
    _links,
    _said("markup", SLACK_MARKUP, "contains Slack control syntax ({})."),
    _personal,
    _emoji,
    _holding_line,
)


def check_draft(draft: Draft, context: DraftContext) -> list[Problem]:
    """Every rule `draft` breaks; an empty list means a person may approve it as it is."""
    text = draft.text.strip()
    if not text:
        return [Problem("empty", "The draft is empty.")]
    return [problem for check in CHECKS for problem in check(text, context)]


@dataclass(frozen=True)
class CheckedDraft:
    draft: Draft
    problems: tuple[Problem, ...]

    @property
    def passes(self) -> bool:
        return not self.problems


def check_drafts(drafts: Iterable[Draft], context: DraftContext) -> list[CheckedDraft]:
    return [CheckedDraft(d, tuple(check_draft(d, context))) for d in drafts]


# --- template drafts ---------------------------------------------------------------------


class TemplateBook(BaseModel):
    """The guide's template drafts: department -> intent -> two or three drafts, each text
    holding {sign_off}."""

    version: int | str = 1
    departments: dict[str, dict[Literal["complaint", "question", "praise"], list[Draft]]]

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> TemplateBook:
        departments = {k: v for k, v in data.items() if k != "version"}
        return cls(version=data.get("version", 1), departments=departments)

    @field_validator("departments")
    @classmethod
    def _complete(cls, departments: dict[str, dict[str, list[Draft]]]) -> dict:
        problems = [
            f"{key}.{intent}: {problem}"
            for key, intents in departments.items()
            for intent in INTENTS
            for problem in _template_problems(intents.get(intent))
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return departments


def _template_problems(drafts: Sequence[Draft] | None) -> list[str]:
    if not drafts:
        return ["missing"]
    problems = [] if 2 <= len(drafts) <= MAX_DRAFTS else ["needs two or three drafts"]
    return problems + [
        f"draft {i + 1} does not end with {SIGN_OFF_SLOT}"
        for i, draft in enumerate(drafts)
        if not draft.text.endswith(SIGN_OFF_SLOT)
    ]


def intent_of(sentiment: str | None) -> str:
    """complaint for negative mentions, praise for positive ones, question otherwise."""
    return {"negative": "complaint", "positive": "praise"}.get(sentiment or "", "question")


def template_drafts(book: TemplateBook, context: DraftContext) -> DraftSet:
    """Deterministic drafts from the guide's templates, for when no LLM is configured."""
    intents = book.departments.get(context.department) or book.departments["care"]
    drafts = [
        draft.model_copy(update={"text": draft.text.replace(SIGN_OFF_SLOT, context.sign_off)})
        for draft in intents[intent_of(context.sentiment)]
    ]
    return DraftSet(drafts=drafts, origin="template")
