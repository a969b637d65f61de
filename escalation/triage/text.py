"""Reading a mention's text safely: Slack control syntax, links, handles and injected
instructions are taken out before any rule looks at the words, so none of them can steer triage.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from escalation.triage.phrases import PhraseList

SLACK_CONTROL = re.compile(r"<[@#!][^<>\s|]+(?:\|[^<>]*)?>")
SLACK_LINK = re.compile(r"<((?:https?|mailto):[^|>\s]+)\|([^>]*)>")
SLACK_BARE_LINK = re.compile(r"<((?:https?|mailto):[^|>\s]+)>")
URL = re.compile(
    r"(?:https?://|www\.)\S+|\b[\w-]+(?:\.[\w-]+)*\.(?:example|com|co\.uk|net|org|io|ly)/\S*"
)
DOMAIN = re.compile(r"\b(?:[a-z0-9-]+\.)+(?:example|com|co\.uk|uk|net|org|io|ly)\b", re.I)
HANDLE = re.compile(r"(?<![\w@])@([\w.-]+(?:@[\w-]+(?:\.[\w-]+)+)?)")
HASHTAG = re.compile(r"#(\w+)")
CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
SENTENCE = re.compile(r"[^.!?\n]+[.!?\n]*")
BRACKETED = re.compile(r"\[[^\]]*\]|\([^)]*\)|\{[^}]*\}")
QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "\u00a0": " "})
EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff]")


@dataclass(frozen=True)
class Brand:
    """How the organisation is named and tagged."""

    names: tuple[str, ...]
    handles: frozenset[str]

    def is_own(self, handle: str) -> bool:
        return _bare(handle) in self.handles

    def imitated_by(self, name: str) -> bool:
        squashed = re.sub(r"[\W_]+", "", name).lower()
        return any(n.lower().replace(" ", "") in squashed for n in self.names)


@dataclass
class Prepared:
    """A mention's text made safe to read, and what was taken out of it."""

    original: str
    text: str
    brand_tags: list[str] = field(default_factory=list)
    other_tags: list[str] = field(default_factory=list)
    lookalike_tags: list[str] = field(default_factory=list)
    slack_markup: list[str] = field(default_factory=list)
    disguised_links: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    injection: list[str] = field(default_factory=list)

    @property
    def emoji(self) -> list[str]:
        return EMOJI.findall(self.original)


def prepare(text: str, brand: Brand, injection: PhraseList) -> Prepared:
    """Strip what must never steer triage, keeping a note of each thing removed."""
    prepared = Prepared(original=text, text=text.translate(QUOTES))
    _take_slack_links(prepared)
    _take_slack_controls(prepared)
    _take_urls(prepared)
    _take_handles(prepared, brand)
    prepared.text = HASHTAG.sub(lambda m: " " + CAMEL.sub(" ", m.group(1)) + " ", prepared.text)
    _take_injection(prepared, injection)
    prepared.text = re.sub(r"[ \t]+", " ", prepared.text).strip()
    return prepared


def _take_slack_links(prepared: Prepared) -> None:
    def replace(match: re.Match[str]) -> str:
        url, label = match.group(1), match.group(2)
        prepared.slack_markup.append(match.group(0))
        prepared.links.append(url)
        if _disguised(url, label):
            prepared.disguised_links.append(f"{label} -> {url}")
        return " "

    prepared.text = SLACK_LINK.sub(replace, prepared.text)
    prepared.text = SLACK_BARE_LINK.sub(lambda m: _note(prepared.slack_markup, m), prepared.text)


def _disguised(url: str, label: str) -> bool:
    """A link whose label shows one domain and whose target is another, the phisher's trick."""
    shown = DOMAIN.search(label)
    host = (urlsplit(url).hostname or "").lower()
    if not shown:
        return False
    shown_host = shown.group(0).lower()
    return not (host == shown_host or host.endswith("." + shown_host))


def _take_slack_controls(prepared: Prepared) -> None:
    prepared.text = SLACK_CONTROL.sub(lambda m: _note(prepared.slack_markup, m), prepared.text)


def _take_urls(prepared: Prepared) -> None:
    prepared.text = URL.sub(lambda m: _note(prepared.links, m), prepared.text)


def _note(found: list[str], match: re.Match[str]) -> str:
    found.append(match.group(0))
    return " "


def _take_handles(prepared: Prepared, brand: Brand) -> None:
    """Sort the handles out. A brand handle inside a sentence ("avoid @brightwave") reads as the
    brand's name, so phrases about the brand still match; one that only addresses goes."""

    def replace(match: re.Match[str]) -> str:
        handle = match.group(1).rstrip(".-")
        if brand.is_own(handle):
            prepared.brand_tags.append(handle)
            before = HANDLE.sub(" ", match.string[: match.start()])
            if re.search(r"[^\W_]['’]?[\s,:;(\"'-]*$", before):
                return " " + brand.names[0] + match.group(0)[1 + len(handle) :]
        elif brand.imitated_by(handle):
            prepared.lookalike_tags.append(handle)
        else:
            prepared.other_tags.append(handle)
        return " "

    prepared.text = HANDLE.sub(replace, prepared.text)


def _bare(handle: str) -> str:
    """A handle without '@' and without a Mastodon instance, in lower case."""
    handle = handle.lower().lstrip("@")
    if handle.count("@") == 1:
        handle = handle.split("@")[0]
    return handle


def _take_injection(prepared: Prepared, injection: PhraseList) -> None:
    """Drop every bracketed aside and then every sentence that carries an instruction to a bot.

    Whole sentences go, not just the trigger words, because the rest of an injected sentence
    ("mark my account as refunded") would otherwise read as a genuine request.
    """

    def drop(match: re.Match[str]) -> str:
        hits = injection.find(match.group(0))
        if not hits:
            return match.group(0)
        prepared.injection.extend(hit.text for hit in hits)
        return " "

    prepared.text = BRACKETED.sub(drop, prepared.text)
    prepared.text = SENTENCE.sub(drop, prepared.text)


def shouted_words(text: str, allowed: Iterable[str]) -> list[str]:
    """Words in capitals that are not acronyms or codes: the written equivalent of shouting."""
    skip = {word.upper() for word in allowed}
    words = re.findall(r"\b[A-Z]{4,}\b", text)
    return [word for word in words if word not in skip]
