"""Values a statement may write in several ways, read into one form: "11 pm", "11 at night" and
"23:00" are "23"; "150 euros" and "€150" are "€150"; "$12k" and "12,000 dollars" "$12000";
"five past eight" is "8:05"; "half an hour" and "30 minutes" are "1800s".

Pure functions over words already split; ``statements.py`` calls them as it reads.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from decimal import Decimal

from remembrancer import lexicon as lx

CURRENCY_WORDS = {
    **dict.fromkeys(("dollar", "dollars", "usd", "bucks"), "$"),
    **dict.fromkeys(("euro", "euros", "eur"), "€"),
    "gbp": "£",  # not "pounds", which may be a weight
    **dict.fromkeys(("yen", "jpy"), "¥"),
}
_TWO_DIGITS = re.compile(r"[0-9]{1,2}")  # "²" is a digit to str.isdigit, but no number to int()
_CLOCK = re.compile(r"(\d{1,2})(?::(\d\d))?")  # "9", "07:40"
_AMOUNT = re.compile(r"[-\u2212$€£¥]*\d")  # a value's norm that is a number, an amount or a time
_CALENDAR_NORMS = frozenset(lx.CALENDAR_WORDS.values())
_SCALES = {"k": Decimal(10**3), "m": Decimal(10**6), "mn": Decimal(10**6), "bn": Decimal(10**9)}
SCALE_SUFFIXES = tuple(_SCALES)
#: The minutes of a time said in words ("twenty past", "quarter to"), by the norm of the word.
_CLOCK_MINUTES = {"5": 5, "10": 10, "20": 20, "25": 25, "quarter": 15, "half": 30}
_HOURS = {"ten": 10, "eleven": 11, "twelve": 12}
FRACTIONS = {"half": "0.5", "quarter": "0.25"}
#: Words after an hour that say which half of the day it is in.
_HALVES_OF_DAY = {
    ("at", "night"): "night",
    ("in", "the", "morning"): "am",
    ("in", "the", "afternoon"): "pm",
    ("in", "the", "evening"): "pm",
}


def time_or_number(digits: str, meridiem: str) -> str:
    """'07:40' -> '7:40', '11' + 'pm' -> '23', '9:00' -> '9', '1,000' -> '1000'."""
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+", digits):
        return digits.replace(",", "")
    clock = _CLOCK.fullmatch(digits)
    if clock is None or (clock.group(2) is None and not meridiem):
        return digits
    hour, minute = int(clock.group(1)), clock.group(2) or "00"
    if meridiem == "pm" and hour < 12:
        hour += 12
    elif meridiem == "am" and hour == 12:
        hour = 0
    return str(hour) + ("" if minute == "00" else f":{minute}")


def scaled(value: str, suffix: str, currency: str) -> tuple[str, str]:
    """The value and suffix of an amount with its scale written out: "12" + "k" -> ("12000", "");
    "m" scales only an amount of money ("$3m"), as "5m" may be metres."""
    factor = _SCALES.get(suffix) if re.fullmatch(r"\d+(?:\.\d+)?", value) else None
    if factor is None or not (currency or suffix == "k"):
        return value, suffix
    total = Decimal(value) * factor  # exact: "$2.01k" is "$2010"
    return format(total.normalize(), "f"), ""


def amount_or_time(norm: str) -> bool:
    """A value's norm that is a number, an amount, a time, a date or a day: not a name."""
    return _AMOUNT.match(norm) is not None or norm in _CALENDAR_NORMS


def compound_number(lower: str) -> str | None:
    """ "twenty-five" -> "25"; None for anything else."""
    tens, _, unit = lower.partition("-")
    if tens in lx.TENS and unit in lx.UNITS:
        return str(lx.TENS[tens] + lx.UNITS[unit])
    return None


def seconds(count: str, unit: int) -> str:
    return f"{float(count) * unit:g}s"


def clock_time(minutes_norm: str, relation: str, following: str) -> str | None:
    """ "five" + "past" + "eight" -> "8:05", "quarter" + "to" + "nine" -> "8:45"; None when the
    words say no time of day."""
    minutes = _CLOCK_MINUTES.get(minutes_norm)
    hour = (
        int(following)
        if _TWO_DIGITS.fullmatch(following)
        else lx.UNITS.get(following, _HOURS.get(following, 0))
    )
    if minutes is None or not 1 <= hour <= 12 or (relation == "to" and minutes == 30):
        return None
    if relation == "to":
        hour, minutes = (hour - 2) % 12 + 1, 60 - minutes
    return f"{hour}:{minutes:02d}"


def half_of_day(value: str, after: Sequence[str]) -> tuple[str, int]:
    """ "am" or "pm" when the words ``after`` an hour say it ("11 at night", "7 in the
    morning"), and how many of them say it; ("", 0) when they do not."""
    hour = _CLOCK.fullmatch(value)
    if hour is None or not 1 <= int(hour.group(1)) <= 12:
        return "", 0
    for phrase, half in _HALVES_OF_DAY.items():
        if tuple(after[: len(phrase)]) == phrase:
            if half == "night":  # "11 at night" is 11 pm, "2 at night" 2 am, "12 at night" midnight
                return ("pm" if 6 <= int(hour.group(1)) < 12 else "am"), len(phrase)
            return half, len(phrase)
    return "", 0


_NUMERIC_DATE = re.compile(r"(\d{1,4})[/.-](\d{1,2})(?:[/.-](\d{2,4}))?")


def numeric_date(digits: str) -> str | None:
    """ "30/09/2025", "9/30/2025" and "2025-09-30" -> "2025-09-30"; None when it is no date
    ("24/7"), or could be either day-month or month-day ("05/06/2025")."""
    found = _NUMERIC_DATE.fullmatch(digits)
    if found is None:
        return None
    first, second, third = int(found.group(1)), int(found.group(2)), found.group(3)
    if len(found.group(1)) == 4:  # ISO: year, month, day
        year, month, day = first, second, int(third) if third else 0
    elif len(found.group(1)) > 2 or third is None or len(third) != 4:  # "24/7" is no date
        return None
    else:
        year = int(third)
        if first > 12 >= second:
            day, month = first, second
        elif second > 12 >= first:
            month, day = first, second
        else:
            return None
    return _date(year, month, day)


def _date(year: int, month: int, day: int) -> str | None:
    if not 1 <= month <= 12 or not 1 <= day <= calendar.monthrange(year or 2000, month)[1]:
        return None  # "31/02/2025" is no date; a date with no year may be 29 February
    return f"{year:04d}-{month:02d}-{day:02d}" if year else f"{month:02d}-{day:02d}"


def written_dates(norms: Sequence[str]) -> list[tuple[list[int], str]]:
    """Dates written as a day and a month name in either order, with a year after them or not
    ("3 March", "the 3rd of March", "March 3rd, 2025"): the indexes of their words and the date
    as one value ("03-03", "2025-03-03"). ``norms`` are the words' norms, in order."""
    found: list[tuple[list[int], str]] = []
    i = 0
    while i < len(norms):
        month = lx.MONTH_NUMBERS.get(norms[i])
        day_at = _day_beside(norms, i) if month is not None else None
        if month is None or day_at is None:
            i += 1
            continue
        span = sorted({i, day_at})
        year_at = span[-1] + 1
        year = (
            int(norms[year_at])
            if year_at < len(norms) and re.fullmatch(r"(19|20)\d\d", norms[year_at])
            else 0
        )
        date = _date(year, month, int(norms[day_at]))
        if date is not None:
            found.append(([*span, year_at] if year else span, date))
        i = (year_at if year else span[-1]) + 1
    return found


def _day_beside(norms: Sequence[str], month_at: int) -> int | None:
    """Where the day of a month name at ``month_at`` is: right after it ("March 3"), or before it,
    maybe across "of" ("3 March", "3rd of March")."""

    def is_day(at: int) -> bool:
        return (
            0 <= at < len(norms)
            and _TWO_DIGITS.fullmatch(norms[at]) is not None
            and 1 <= int(norms[at]) <= 31
        )

    if is_day(month_at + 1):
        return month_at + 1
    before = month_at - 2 if month_at >= 2 and norms[month_at - 1] == "of" else month_at - 1
    return before if is_day(before) else None
