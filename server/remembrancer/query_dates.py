"""The dates and periods a query names ("in June 2023", "on 13 October, 2023", "last week"), so
recall can favour memories whose event time falls in them. A month or day named without a year
("when did she go camping in June?") stands for that month or day in any year."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from remembrancer.moments import named_period

#: Month names and their usual short forms, with their numbers.
MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_MONTH = r"(?P<month>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>(?:19|20)\d\d)"
#: A month alone must follow a word that makes it a time ("in May", not "may I", "this may
#: fail" or "by Jan"); with a day or a year beside it, it is a date wherever it stands.
_LEAD = r"(?:in|on|during|since|until|before|after|around|early|mid|late|last|next)\s+"
_FORMS = (
    re.compile(rf"\b{_YEAR}-(?P<month_number>[01]\d)-(?P<day>[0-3]\d)\b"),
    re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH},?\s+{_YEAR}\b"),
    re.compile(rf"\b{_MONTH}\s+{_DAY},?\s+{_YEAR}\b"),
    re.compile(rf"\b{_MONTH},?\s+{_YEAR}\b"),
    re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH}\b"),
    re.compile(rf"\b{_MONTH}\s+{_DAY}\b(?!\s*(?:,\s*)?(?:19|20)\d\d)"),
    re.compile(rf"\b{_LEAD}{_MONTH}\b"),
    re.compile(rf"\b{_LEAD}{_YEAR}\b"),  # a year alone after "in", "since", ...: not "2000 photos"
)
_RELATIVE = re.compile(r"\b(today|yesterday|(?:this|last) (?:week|month|year))\b")


@dataclass(frozen=True)
class Period:
    """A stretch of time a query names. Without a year it recurs: that month (and day) of
    every year."""

    year: int | None
    month: int | None = None
    day: int | None = None
    span: tuple[datetime, datetime] | None = None  # a relative period, resolved against now
    zone: tzinfo = UTC  # where its days begin and end

    def holds(self, moment: datetime) -> bool:
        if self.span is not None:
            return self.span[0] <= moment < self.span[1]
        moment = moment.astimezone(self.zone)
        return (
            (self.year is None or moment.year == self.year)
            and (self.month is None or moment.month == self.month)
            and (self.day is None or moment.day == self.day)
        )

    def bounds(self) -> tuple[datetime, datetime] | None:
        """Its start and end, when it happens once (a year is named, or it is relative)."""
        if self.span is not None:
            return self.span
        if self.year is None:
            return None
        first = date(self.year, self.month or 1, self.day or 1)
        if self.day is not None:
            last = first + timedelta(days=1)
        elif self.month is not None:
            last = (first + timedelta(days=32)).replace(day=1)
        else:
            last = first.replace(year=self.year + 1)
        return datetime.combine(first, time(), self.zone), datetime.combine(last, time(), self.zone)


def named_periods(query: str, zone: tzinfo, now: datetime | None = None) -> list[Period]:
    """Every period the query names, most precise first; each stretch of text is read once."""
    text = query.casefold()
    taken = [False] * len(text)
    found: list[Period] = []
    for form in _FORMS:
        for match in form.finditer(text):
            if any(taken[match.start() : match.end()]):
                continue
            period = _period(match.groupdict(), zone)
            if period is not None:
                found.append(period)
                taken[match.start() : match.end()] = [True] * (match.end() - match.start())
    current = (now or datetime.now(zone)).astimezone(zone)
    for match in _RELATIVE.finditer(text):
        span = named_period(match.group(1), current)
        if span is not None:
            found.append(Period(None, span=span, zone=zone))
    return found


def _period(parts: dict[str, str | None], zone: tzinfo) -> Period | None:
    year_text, day_text = parts.get("year"), parts.get("day")
    month_name, month_number = parts.get("month"), parts.get("month_number")
    year = int(year_text) if year_text else None
    month = MONTHS[month_name] if month_name else int(month_number) if month_number else None
    day = int(day_text) if day_text else None
    if month is not None and not 1 <= month <= 12:
        return None
    if day is not None:
        try:
            date(year or 2000, month or 1, day)  # 2000: a leap year, so 29 February stands
        except ValueError:
            return None
    return Period(year, month, day, zone=zone)
