"""A question that asks when, and a memory that says when: "When did Tom move to Lyon?" is
answered by "Tom moved to Lyon last spring" more often than by "Tom loves Lyon", "How often do I
run?" by "I run every morning". Recall lifts a memory whose text names a time (a month, a
weekday, a year, a clock time, "yesterday", "two weeks ago") for a question asking when, how long
or how often; its event time is not its text, so it does not count here."""

from __future__ import annotations

import re

_ASKS_WHEN = re.compile(
    r"^\W*when\b"
    r"|\bwhen(?:'s| (?:is|was|are|were|do|does|did|will|would|can|could|should|has|have|had))\b"
    r"|\b(?:what|which) (?:time|date|day|days|year|month|week|weekday)\b"
    r"|\bhow (?:long|often)\b|\bsince when\b",
    re.IGNORECASE,
)
_SAYS_WHEN = re.compile(
    r"\b(?:january|february|march|april|june|july|august|september|october|november|december"
    r"|monday|tuesday|wednesday|thursday|friday|saturday|sunday|mondays|tuesdays|wednesdays"
    r"|thursdays|fridays|saturdays|sundays|yesterday|today|tomorrow|tonight|weekend|weekends"
    r"|week|weeks|month|months|year|years|ago|recently|morning|evening|afternoon|night|noon|midnight"
    r"|daily|weekly|fortnightly|monthly|yearly|annually|nightly|hourly|every|each|whenever"
    r"|spring|summer|autumn|winter"
    r"|(?:19|20)\d\d|[0-3]?\d(?:st|nd|rd|th)|[0-2]?\d(?::[0-5]\d| ?[ap]\.?m\b\.?))\b"
    r"|\bmay (?:[0-3]?\d|(?:19|20)\d\d)\b|\b[0-3]?\d(?:st|nd|rd|th)? may\b|\bin may\b",
    re.IGNORECASE,
)


def asks_when(question: str) -> bool:
    """Whether the question asks for a time: "When ...", "What time ...", "Which year ...", "How
    long ...", "How often ..."."""
    return _ASKS_WHEN.search(question) is not None


def says_when(text: str) -> bool:
    """Whether the text names a time ("last week", "on Friday", "in 2019", "at 9:30", "3pm"); "may"
    counts only beside a day or year, or after "in"."""
    return _SAYS_WHEN.search(text) is not None
