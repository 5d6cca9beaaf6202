"""A question that asks when, and a memory that says when: "When did Tom move to Lyon?" is
answered by "Tom moved to Lyon last spring" more often than by "Tom loves Lyon", "How often do I
run?" by "I run every morning". Recall lifts a memory whose text names a time (a month, a
weekday, a year, a clock time, "yesterday", "two weeks ago") for a question asking when, how long
or how often; its event time is not its text, so it does not count here."""

from __future__ import annotations

import re
from functools import lru_cache

from remembrancer import lexicon as lx
from remembrancer.word_forms import CACHED_TEXT_CHARS

_ASKS_WHEN = re.compile(
    # "When did ...", not a clause ("When I travel, which airline ...?")
    r"^\W*when\b(?!\s+(?:i|we|you|he|she|they|my|our|the)\b)"
    r"|\bwhen(?:'s|’s| (?:is|was|are|were|do|does|did|will|would|can|could|should|has|have|had))\b"
    r"|\b(?:what|which) (?:time|date|day|days|year|month|week|weekday)\b"
    r"(?!\s+(?:zone|zones|format|formats|care|frame|stamp|stamps|span|limit|limits)\b)"
    r"|\bhow (?:long|often|soon)\b|\bhow many (?:years|months|weeks|days|hours|minutes)\b"
    r"|\b(?:since|by|until) when\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"\w+")
_CALENDAR = frozenset(lx.CALENDAR_WORDS.values()) - {"may"}  # months and weekdays, whole
_TIME_WORDS = (
    _CALENDAR
    | {f"{day}s" for day in _CALENDAR if day.endswith("day")}
    | frozenset(
        """
        yesterday today tomorrow tonight weekend weekends week weeks month months year years ago
        recently morning evening afternoon night noon midnight spring summer autumn winter
        daily weekly fortnightly monthly yearly annually nightly hourly every each whenever
        since minute minutes hour hours day days fortnight decade decades
        """.split()  # noqa: SIM905
    )
)
# A year, a day of the month ("3rd"), a clock time ("9:30", "3pm", "3 p.m.").
_DIGITS = re.compile(r"\b(?:(?:19|20)\d\d|[0-3]?\d(?:st|nd|rd|th)|[0-2]?\d(?::[0-5]\d| ?[ap]\.?m))\b")
# "may" is a month only beside a day or a year, or after "in".
_MAY = re.compile(r"\bmay (?:[0-3]?\d|(?:19|20)\d\d)\b|\b[0-3]?\d(?:st|nd|rd|th)? may\b|\bin may\b")


def asks_when(question: str) -> bool:
    """Whether the question asks for a time: "When ...", "What time ...", "Which year ...", "How
    long ...", "How often ...", "How many years ..."."""
    return _ASKS_WHEN.search(question) is not None


def says_when(text: str) -> bool:
    """Whether the text names a time ("last week", "on Friday", "in 2019", "at 9:30", "3pm",
    "every morning") or a span of it ("5 hours", "since 2019")."""
    return _cached_says_when(text) if len(text) <= CACHED_TEXT_CHARS else _says_when(text)


def _says_when(text: str) -> bool:
    lower = text.casefold()
    words = set(_WORD.findall(lower))
    if not words.isdisjoint(_TIME_WORDS) or _DIGITS.search(lower):
        return True
    return "may" in words and _MAY.search(lower) is not None


_cached_says_when = lru_cache(maxsize=4096)(_says_when)
