"""Times as people and assistants write them: ISO 8601, or relative ("7d", "yesterday",
"last week"), read in a stated zone. ``since`` takes the start of a period, ``until`` its end."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta, tzinfo

from remembrancer.errors import InvalidInput

_SPAN = re.compile(r"(\d{1,5})\s*(m|min|h|d|w)", re.IGNORECASE)
_UNIT = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DAY = timedelta(days=1)
EXAMPLES = 'e.g. 2026-01-31, 2026-01-31T09:00+01:00, "7d", "24h", "yesterday", "last week"'


def named_period(text: str, now: datetime) -> tuple[datetime, datetime] | None:
    """The start and end of a named period around ``now`` (in now's zone)."""
    midnight = datetime.combine(now.date(), time(), now.tzinfo)
    monday = midnight - now.weekday() * _DAY
    first = midnight.replace(day=1)
    previous_first = (first - _DAY).replace(day=1)
    new_year = first.replace(month=1)
    periods = {
        "today": (midnight, midnight + _DAY),
        "yesterday": (midnight - _DAY, midnight),
        "this week": (monday, monday + 7 * _DAY),
        "last week": (monday - 7 * _DAY, monday),
        "this month": (first, (first + 32 * _DAY).replace(day=1)),
        "last month": (previous_first, first),
        "this year": (new_year, new_year.replace(year=new_year.year + 1)),
        "last year": (new_year.replace(year=new_year.year - 1), new_year),
    }
    return periods.get(text)


def resolve(text: str, *, zone: tzinfo, end: bool, now: datetime | None = None) -> datetime:
    """The moment ``text`` names. A date alone, or a named period, is its first moment, or with
    ``end`` its last; "7d" is seven days before now; a time without a zone is in ``zone``."""
    value = " ".join(text.strip().lower().split())
    now = (now or datetime.now(zone)).astimezone(zone)
    span = _SPAN.fullmatch(value)
    if span:
        return now - timedelta(**{_UNIT[span.group(2)]: int(span.group(1))})
    period = named_period(value, now)
    if period is not None:
        return period[1] - timedelta(microseconds=1) if end else period[0]
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            f"{text!r} is not a time I can read; use ISO 8601 or a relative form, {EXAMPLES}."
        ) from None
    if len(text.strip()) <= 10 and end:  # a date alone: its last moment (9999-12-31 too)
        moment = datetime.combine(moment.date(), time.max)
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment


def zone_name(zone: tzinfo) -> str:
    return getattr(zone, "key", None) or datetime.now(zone).tzname() or str(zone)
