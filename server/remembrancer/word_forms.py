"""How recall reads words: a light English stem (common abbreviations read as their word), the
words about time, how common a word is in English, and the stems a text holds and tells (not the
names it speaks to). relevance.py weighs them."""

from __future__ import annotations

import re
from functools import lru_cache

from remembrancer.addressing import without_names_spoken_to
from remembrancer.lexicon import ABBREVIATIONS
from remembrancer.query_dates import MONTHS
from remembrancer.tokens import FIRST_WORD_ID, vocabulary

_TIME_WORDS = frozenset(
    f"{' '.join(MONTHS)} monday tuesday wednesday thursday friday saturday sunday yesterday today tomorrow "
    "tonight weekend week weeks month months year years ago last next".split()
)
_ORDINAL = re.compile(r"\d{1,2}(?:st|nd|rd|th)")
_WORD = re.compile(r"\w+")
_DOUBLING = ("ing", "ings", "ed")  # suffixes before which a consonant doubles
_DOUBLED = frozenset("bgmnprt")
_SUFFIXES = ("ingly", "edly", "ings", "ing", "ies", "ied", "ers", "ed", "er", "ly", "s")


def is_time_word(word: str) -> bool:
    """A month, weekday, year, day of the month or relative time word."""
    if word in _TIME_WORDS or _ORDINAL.fullmatch(word):
        return True
    return word.isdigit() and (len(word) <= 2 or (len(word) == 4 and word[:2] in ("19", "20")))


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light English stem: enough to match "lives", "lived" and "living" with "live", and
    "running" with "run"; a common abbreviation stands for its word ("prod": "production", "repos":
    "repository")."""
    return _ABBREVIATED.get(word) or _plain_stem(word)


def _plain_stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            word = word[: -len(suffix)] + ("y" if suffix in ("ies", "ied") else "")
            if suffix in _DOUBLING and word[-1] == word[-2] and word[-1] in _DOUBLED:
                word = word[:-1]  # "running", "planned"
            break
    return word[:-1] if word.endswith("e") and len(word) > 3 else word


# An abbreviation and its plural, by the stem of their word. Not "st" (a saint as often as a
# street), "rd", or "docs" (whose singular, "doc", is a doctor as often as a document).
_ABBREVIATED = {
    form: _plain_stem(word)
    for short, word in ABBREVIATIONS.items()
    if short not in ("st", "rd", "docs")
    for form in (short, f"{short}s")
}

_RARE_SHARE = 1 / 30_000


def english_share(word: str) -> float:
    """About how common the word is in English: 1/rank in the tokenizer's vocabulary."""
    position = vocabulary().get(word)
    if position is None or position < FIRST_WORD_ID:
        return _RARE_SHARE
    return 1.0 / (position - FIRST_WORD_ID + 1)


#: Texts up to this long keep their stems between recalls (4,096 of them, about 2 KB each).
CACHED_TEXT_CHARS = 600
#: Texts up to this long may be a turn of a conversation, read for the names they speak to.
TURN_CHARS = 600


def word_stems(text: str) -> frozenset[str]:
    """The stems of a text's words. A store's memories recur from recall to recall, and reading
    them afresh each time took longer than the rest of the word side."""
    return _cached_stems(text) if len(text) <= CACHED_TEXT_CHARS else _stems(text)


def _stems(text: str) -> frozenset[str]:
    return frozenset(map(stem, _WORD.findall(text.casefold())))


_cached_stems = lru_cache(maxsize=4096)(_stems)


def told_stems(text: str, stems: frozenset[str] | None = None) -> frozenset[str]:
    """The stems of a text's words but where it names someone it speaks to ("Thanks, Melanie!",
    addressing.py). A text longer than a turn of a conversation (``TURN_CHARS``) is a document:
    all its words are told (``stems``, its word_stems, when the caller has them)."""
    if len(text) > TURN_CHARS:
        return word_stems(text) if stems is None else stems
    return _cached_told(text)


def _told(text: str) -> frozenset[str]:
    told = without_names_spoken_to(text)
    # Most texts speak to no one: their stems are the ones already read, not a second copy.
    return word_stems(text) if told == text else _stems(told)


_cached_told = lru_cache(maxsize=4096)(_told)
