"""Values a statement may write in several ways, read into one form: "11 pm", "11 at night" and
"23:00" are "23"; "150 euros" and "€150" are "€150"; "$12k" and "12,000 dollars" "$12000";
"five past eight" is "8:05"; "half an hour" and "30 minutes" are "1800s".

Pure functions over words already split; ``statements.py`` calls them as it reads.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from remembrancer import lexicon as lx

CURRENCY_WORDS = {
    **dict.fromkeys(("dollar", "dollars", "usd", "bucks"), "$"),
    **dict.fromkeys(("euro", "euros", "eur"), "€"),
    **dict.fromkeys(("pound", "pounds", "gbp"), "£"),
    **dict.fromkeys(("yen", "jpy"), "¥"),
}
_SCALES = {"k": 1e3, "m": 1e6, "mn": 1e6, "bn": 1e9}
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
    clock = re.fullmatch(r"(\d{1,2})(?::(\d\d))?", digits)
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
    total = float(value) * factor
    return (str(int(total)) if total.is_integer() else str(total)), ""


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
    hour = int(following) if following.isdigit() else lx.UNITS.get(following, _HOURS.get(following, 0))
    if minutes is None or not 1 <= hour <= 12 or (relation == "to" and minutes == 30):
        return None
    if relation == "to":
        hour, minutes = (hour - 2) % 12 + 1, 60 - minutes
    return f"{hour}:{minutes:02d}"


def half_of_day(value: str, after: Sequence[str]) -> tuple[str, int]:
    """ "am" or "pm" when the words ``after`` an hour say it ("11 at night", "7 in the
    morning"), and how many of them say it; ("", 0) when they do not."""
    hour = re.fullmatch(r"(\d{1,2})(?::\d\d)?", value)
    if hour is None or not 1 <= int(hour.group(1)) <= 12:
        return "", 0
    for phrase, half in _HALVES_OF_DAY.items():
        if tuple(after[: len(phrase)]) == phrase:
            if half == "night":  # "11 at night" is 11 pm, "2 at night" 2 am, "12 at night" midnight
                return ("pm" if 6 <= int(hour.group(1)) < 12 else "am"), len(phrase)
            return half, len(phrase)
    return "", 0
