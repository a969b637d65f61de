"""The author's attitude to the brand, from word lists and a few rules, offline.

Plain fault reports stay neutral: only evaluative words, frustration markers ("again", "still"),
shouting and angry emoji make a text negative. Sarcasm turns praise into a complaint: an ironic
marker ("love how", "oh great") or an eye-roll next to a failure reads as negative.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from escalation.triage.phrases import Hit
from escalation.triage.rules import Lexicon
from escalation.triage.text import Prepared, shouted_words

NEGATION_REACH = 3  # words between a negator and the word it turns round


@dataclass(frozen=True)
class Mood:
    label: str  # negative, neutral or positive
    sarcasm: bool
    evidence: tuple[str, ...]


WEAK = 0.5  # "??" or "explain" lean negative but do not outweigh one word of praise


@dataclass
class _Tally:
    positive: list[str]
    negative: list[str]
    eye_roll: list[str]
    irony: list[str]
    weak: list[str]

    def scores(self) -> tuple[float, float]:
        negative = len(self.negative) + len(self.eye_roll) + WEAK * len(self.weak)
        return negative, float(len(self.positive))


def score_sentiment(prepared: Prepared, cues: Mapping[str, Sequence[str]], lex: Lexicon) -> Mood:
    """Negative, neutral or positive, with the words and emoji that decided it."""
    if not prepared.text:
        return Mood("neutral", False, ())
    text = _mask(prepared.text, lex.neutralisers.find(prepared.text))
    tally = _tally(text, prepared.emoji, lex)
    tally.negative += [hit for name in lex.negative_cues for hit in cues.get(name, ())]
    sarcasm = _sarcasm(text, tally, cues, lex)
    if sarcasm:
        return Mood("negative", True, tuple(sarcasm))
    negative, positive = tally.scores()
    if negative and negative >= positive:
        return Mood("negative", False, tuple(tally.negative + tally.eye_roll + tally.weak))
    if positive:
        return Mood("positive", False, tuple(tally.positive))
    return Mood("neutral", False, ())


def _mask(text: str, hits: list[Hit]) -> str:
    """Blank out polite formulas ("would love", "thanks in advance") that are not praise."""
    for hit in hits:
        text = text[: hit.start] + " " * (hit.end - hit.start) + text[hit.end :]
    return text


def _tally(text: str, emoji: list[str], lex: Lexicon) -> _Tally:
    negators = lex.negators.find(text)
    tally = _Tally([], [], [e for e in emoji if e in lex.eye_roll_emoji], [], [])
    tally.irony = [e for e in emoji if e in lex.irony_emoji]
    tally.weak = [h.text for h in lex.weak_negative.find(text) if not _negated(h, negators, text)]
    for hit in lex.positive.find(text):
        target = tally.negative if _negated(hit, negators, text) else tally.positive
        target.append(hit.text)
    tally.negative += [h.text for h in lex.negative.find(text) if not _negated(h, negators, text)]
    tally.positive += [e for e in emoji if e in lex.positive_emoji]
    tally.negative += [e for e in emoji if e in lex.negative_emoji]
    if shouted := [w for w in shouted_words(text, lex.not_shouting) if re.search("[AEIOU]", w)]:
        tally.negative.append(shouted[0])
    return tally


def _negated(hit: Hit, negators: list[Hit], text: str) -> bool:
    """A negator shortly before, in the same clause: "not great", "never happy"."""
    for negator in negators:
        between = text[negator.end : hit.start]
        if negator.end <= hit.start and not re.search(r"[.,;:!?]", between):
            if len(between.split()) <= NEGATION_REACH:
                return True
    return False


def _sarcasm(text: str, tally: _Tally, cues: Mapping[str, Sequence[str]], lex: Lexicon) -> list:
    """The cues of irony, or an empty list when the text means what it says."""
    strong = [hit.text for hit in lex.sarcasm_strong.find(text)]
    if strong:
        return strong
    markers = [hit.text for hit in lex.sarcasm_markers.find(text)]
    failure = [hit for name in lex.sarcasm_context for hit in cues.get(name, ())]
    trouble = tally.negative or tally.eye_roll or failure
    praise = markers or tally.positive
    if markers and trouble:
        return markers + tally.eye_roll + tally.irony
    if tally.eye_roll and praise:
        return praise + tally.eye_roll
    if tally.irony and praise and trouble:
        return praise + tally.irony
    return []
