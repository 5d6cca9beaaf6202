"""A statement read as words of a kind, for the local judge (``comparison.py``).

``read(text)`` turns a statement into words: values (numbers, dates, times, lengths of time,
names, codes), content words, verbs, negations and stance words, cues that carry no fact
("now", "actually"), and function words. It marks what the statement is about: the words
before its first verb (or before a colon, as in ``Alice: ...``), or the complement of
``X is my Y``; whether it is negative; what a preference puts first ("tabs over spaces"); and
whether it is one short fact at all (a question or a passage of several sentences is not).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Literal

from remembrancer import lexicon as lx
from remembrancer import quantities as qty

Kind = Literal["value", "content", "verb", "negation", "stance", "cue", "function"]
INFORMATIVE = ("value", "content", "verb")  # the kinds of word that carry a fact

_TOKEN = re.compile(
    r"(?P<number>(?:(?<![\w.-])[-\u2212])?[$€£¥]?[vV]?\d+(?:[.,:/-]\d+)*[^\W\d_]*)"
    r"|(?P<address>[^\W\d_][\w-]*(?:[.@][\w-]+)+)"
    r"|(?P<code>[^\W\d_][^\W_]*\d[^\W_]*(?:-[^\W_]+)*|[^\W\d_]{1,3}-\d[^\W_]*)"
    r"|(?P<word>[^\W\d_]+(?:-[^\W\d_]+)*(?:['’][^\W\d_]+)?)"
)
_SENTENCE_BREAK = re.compile(r"[.!?;]\s+|\n|:\s+")
_CONTRACTED_AUX = ("'m", "'re", "'ve", "'ll", "'d")
_S_IS_AUX = frozenset("it he she that what there here who where how let".split())  # noqa: SIM905
#: A statement longer than this (in words), or of several sentences, holds more than one fact.
ONE_FACT_WORDS = 30
_ABBREVIATION = re.compile(r"\b(dr|mr|mrs|ms|st|prof|sr|jr|vs|etc|no)\.", re.IGNORECASE)
_MERIDIEM = re.compile(r"(?<=\d)(\s?[aApP])\.[mM]\.?(?!\s+[A-Z])")
_MERIDIEM_ENDING = re.compile(r"(?<=\d)(\s?[aApP])\.[mM]\.(?=\s+[A-Z])")
_SENTENCE_END = re.compile(r"[.!?](?=\s+\S)")


@dataclass(frozen=True)
class Word:
    text: str
    norm: str
    kind: Kind
    index: int
    start: int  # character offset in the statement
    possessive: bool = False
    name: bool = False  # written as a name: capitalised mid-sentence, an acronym, a code
    verbish: bool = False  # a verb form, whatever kind it was read as


@dataclass(frozen=True)
class Reading:
    words: tuple[Word, ...]
    key: frozenset[int]  # indexes of the words naming what the fact is about
    stance: int  # 1 when the statement is negative: a negation or a negative stance word
    ordered: tuple[frozenset[str], frozenset[str]] | None  # "tabs over spaces": ({tab}, {spac})
    verb: str | None = None  # the verb after the subject, if it is no auxiliary
    label: tuple[str, ...] = ()  # the words before a colon that heads it: "Alice: ..."
    one_fact: bool = True  # one short sentence stating something: a changed value changes the whole
    tense: str = ""  # "past" or "present", from its first auxiliary ("was" / "is", "has")
    reports_change: bool = False  # it says something changed: "now", "moved to", "switched", "instead"


class _Reader:
    """Turns raw tokens into words of a kind, one statement at a time."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = sorted(
            {0}
            | {
                match.end()
                for match in _SENTENCE_BREAK.finditer(text)
                if not _ABBREVIATION.search(text[max(0, match.start() - 5) : match.start() + 1])
            }
        )
        self.tokens = list(_TOKEN.finditer(text))
        self.words: list[Word] = []
        self.taken_until = -1  # tokens up to here were read with the word before them
        letters = [char for char in text if char.isalpha()]
        self.shouting = sum(char.isupper() for char in letters) > 0.6 * len(letters)  # "WE MOVED"

    def add(self, raw: str, norm: str, kind: Kind, start: int, **flags: bool) -> None:
        self.words.append(Word(raw, norm, kind, len(self.words), start, **flags))

    def at_sentence_start(self, start: int) -> bool:
        # Only the nearest sentence start before the word can have nothing but quotes between.
        begin = self.starts[bisect_right(self.starts, start) - 1]
        return not self.text[begin:start].strip(" \"'([*-")

    def run(self) -> list[Word]:
        for position, match in enumerate(self.tokens):
            raw, start = match.group(), match.start()
            following = self.then(position + 1)
            lower = raw.lower().replace("’", "'")
            if position <= self.taken_until:
                continue
            if lower in ("past", "to") and self.read_clock(lower, following, self.then(position + 2)):
                self.taken_until = position + 1
            elif lower == "no" and following in lx.COMPARATIVE_BOUNDS and self.then(position + 2) == "than":
                self.add(raw, "no", "cue", start)  # "no later than the 5th" bounds, it denies nothing
            elif match.lastgroup == "number":
                self.number(raw, start, following, position)
            elif match.lastgroup in ("address", "code"):
                self.code(raw, lower, start)
            elif lower in ("am", "pm") and self.words and self.words[-1].kind == "value":
                continue  # joined to the number before it: "9 am"
            elif lower.endswith("n't"):
                base = {"ca": "can", "wo": "will", "sha": "shall"}.get(lower[:-3], lower[:-3])
                self.add(raw, base, "function", start)
                self.add("n't", "not", "cue" if _set_phrase(base, following) else "negation", start)
            elif lower.endswith(_CONTRACTED_AUX) or (lower.endswith("'s") and lower[:-2] in _S_IS_AUX):
                suffix = lower[lower.rindex("'") :]
                self.add(raw, lower[: -len(suffix)], "function", start)
                self.add(suffix, suffix, "function", start)
            elif lower.endswith("'s"):
                self.word(raw[:-2], lower[:-2], start, following, possessive=True)
            else:
                self.word(raw, lower, start, following, possessive=False)
        for indexes, date in qty.written_dates([word.norm for word in self.words]):  # "3 March"
            for index in indexes:
                self.words[index] = replace(self.words[index], kind="value", norm=date)
        return self.words

    def number(self, raw: str, start: int, following: str, position: int) -> None:
        digits = re.match(r"([-\u2212]?)([$€£¥]?)[vV]?(\d+(?:[.,:/-]\d+)*)", raw)
        assert digits is not None  # the token pattern begins with one
        sign, currency = "-" if digits.group(1) else "", digits.group(2)
        value, unit = digits.group(3), raw[digits.end() :].lower()
        meridiem = (
            unit if unit in ("am", "pm") else following if following in ("am", "pm") and not unit else ""
        )
        if not meridiem and not unit and not sign + currency:
            after = [self.then(position + i) for i in range(1, 4)]
            meridiem, taken = qty.half_of_day(value, after)
            self.taken_until = max(self.taken_until, position + taken)
        date = qty.numeric_date(value) if not sign + currency + unit else None
        if date is not None:  # "30/09/2025" is "2025-09-30"
            self.add(raw, date, "value", start, name=True)
            return
        if not currency and unit in ("", *qty.SCALE_SUFFIXES) and following in qty.CURRENCY_WORDS:  # "€150"
            currency, self.taken_until = qty.CURRENCY_WORDS[following], position + 1
        value, unit = qty.scaled(value, unit, currency)  # "$12k" is "$12000"
        # "-2" is not "2", nor "$500" "€500": sign and currency belong to the value.
        self.add(raw, sign + currency + qty.time_or_number(value, meridiem), "value", start, name=True)
        if unit and unit not in ("am", "pm", "st", "nd", "rd", "th", "h"):
            self.add(unit, lx.stem(unit), "content", start)

    def then(self, position: int) -> str:
        """The token at ``position``, lower case ("" past the end)."""
        return self.tokens[position].group().lower() if position < len(self.tokens) else ""

    def read_clock(self, relation: str, hour: str, after: str) -> bool:
        """Read "five past eight", "quarter to nine" into the word before ``relation`` as one
        time ("8:05"); whether it was one. "from ten to five", "aged ten to twelve" and "5 to 10
        minutes" are ranges: "to" makes a time only after "at", "by", "until" or "is"."""
        words = self.words
        if not words or (len(words) > 1 and words[-2].norm in ("from", "between")) or after in lx.RANGE_UNITS:
            return False
        if relation == "to" and (len(words) < 2 or words[-2].norm not in lx.CLOCK_LEADS):
            return False
        time = qty.clock_time(words[-1].norm, relation, hour)
        if time is not None:
            words[-1] = replace(words[-1], kind="value", norm=time)
        return time is not None

    def fraction_before(self) -> tuple[int, str] | None:
        """Where "half" or "quarter" stands before "a"/"an" + a unit, and its share of the unit."""
        words = self.words
        index = len(words) - 3 if len(words) >= 3 and words[-2].norm == "of" else len(words) - 2
        share = qty.FRACTIONS.get(words[index].norm) if index >= 0 else None
        return None if share is None else (index, share)

    def code(self, raw: str, lower: str, start: int) -> None:
        prefix, _, rest = lower.partition("-")
        if rest[:1].isdigit() and len(prefix) > 3:  # "Apache-2.0" is a name and a version
            self.word(raw[: len(prefix)], prefix, start, rest, possessive=False)
            self.add(raw[len(prefix) + 1 :], qty.time_or_number(rest, ""), "value", start, name=True)
        else:
            self.add(raw, lower.rstrip(".").replace("’", "'"), "value", start, name=True)

    def word(self, raw: str, lower: str, start: int, following: str, *, possessive: bool) -> None:
        at_start = self.at_sentence_start(start)
        capitalised = raw[:1].isupper()
        flat = lower.replace("-", "")
        acronym = len(raw) > 1 and raw.isupper() and not self.shouting  # "US clients", not "us"
        name = (
            (capitalised and not at_start and lower not in lx.FUNCTION_WORDS)
            or acronym
            # "Raj is on call", "Kenji maintains ...": one capitalised word that is the whole subject
            or (
                capitalised
                and at_start
                and _singular_verb(following)
                and not flat.endswith("ing")
                and not lx.known(flat)
            )
        )
        if flat == "call" and self.words and self.words[-1].norm == "on":  # "on call" is one thing
            flat = "oncall"
        verbish = (
            flat in lx.VERB_FORMS
            or flat in lx.LIGHT_VERBS
            or flat in lx.CHANGE_VERBS
            or (len(flat) > 4 and flat.endswith(("ed", "ing")))
        )
        flags = {"possessive": possessive, "verbish": verbish}
        previous = self.words[-1].norm if self.words else ""
        unit = lx.TIME_UNITS.get(flat) or lx.TIME_UNITS.get(flat[:-1])
        if unit is not None and self.words and re.fullmatch(r"\d+(?:\.\d+)?", previous):
            # "60 seconds" and "one minute" are one length of time: the number and unit as seconds
            self.words[-1] = replace(
                self.words[-1], text=f"{self.words[-1].text} {raw}", norm=qty.seconds(previous, unit)
            )
        elif unit is not None and previous in ("a", "an", "every", "each", "per"):
            part = self.fraction_before() if previous in ("a", "an") else None
            if part is None:
                self.add(raw, qty.seconds("1", unit), "value", start, **flags)
            else:  # "half an hour", "a quarter of an hour": the fraction and the unit as seconds
                index, share = part
                fraction = self.words[index]
                self.words[index] = replace(fraction, kind="value", norm=qty.seconds(share, unit))
        elif flat in lx.PERIODS:  # "weekly" is every week
            self.add(raw, qty.seconds("1", lx.PERIODS[flat]), "value", start, **flags)
        elif flat == "one" and previous not in lx.DETERMINERS and previous != "which":
            self.add(raw, "1", "value", start, **flags)
        elif (
            (flat == "used" and following == "to")  # "I used to live in Paris": not any more
            or (flat in lx.NEGATIONS and not _set_phrase("can" if flat == "cannot" else flat, following))
            or (flat in lx.ENDING_VERBS and following not in ("to", "by", "from"))  # not "dropped to 55"
            or (flat in lx.GIVE and following == "up")
        ):
            self.add(raw, "not", "negation", start, **flags)
        elif flat in lx.POSITIVE_STANCE or flat in lx.NEGATIVE_STANCE:
            self.add(raw, "-stance" if flat in lx.NEGATIVE_STANCE else "+stance", "stance", start, **flags)
        elif flat in lx.CALENDAR_WORDS and (
            flat not in lx.AMBIGUOUS_MONTHS or (capitalised and not at_start) or following[:1].isdigit()
        ):
            self.add(raw, lx.CALENDAR_WORDS[flat], "value", start, **flags)
        elif flat.endswith("s") and flat[:-1] in lx.CALENDAR_WORDS:  # "Fridays", "mornings"
            self.add(raw, lx.CALENDAR_WORDS[flat[:-1]], "value", start, **flags)
        elif (compound := qty.compound_number(lower)) is not None:  # "twenty-five"
            self.add(raw, compound, "value", start, **flags)
        elif flat in lx.FREQUENCY_WORDS or flat in lx.NUMBER_WORDS:
            self.add(raw, lx.NUMBER_WORDS.get(flat, flat), "value", start, **flags)
        elif (flat in lx.FUNCTION_WORDS or flat in lx.PRONOUN_SUBJECTS) and not acronym:
            self.add(raw, flat, "function", start, **flags)
        elif flat in lx.MOVING and following == "to":  # "I moved to Porto": where one lives now
            self.add(raw, "+home", "verb", start, **flags)
        elif flat in lx.CHANGE_CUES or flat in lx.FILLER or flat in lx.LIGHT_VERBS or flat in lx.CHANGE_VERBS:
            self.add(raw, flat, "cue", start, **flags)
        elif name:  # stemmed like any word, so "Jonas" matches itself read as a common word
            self.add(raw, lx.stem(lx.ABBREVIATIONS.get(flat, flat)), "value", start, name=True, **flags)
        else:
            flat = lx.ABBREVIATIONS.get(flat, flat)
            norm = lx.SYNONYM_CLASSES.get(flat, lx.stem(flat))
            kind: Kind = "cue" if norm in lx.LIGHT_CLASSES else "verb" if verbish else "content"
            self.add(raw, norm, kind, start, **flags)


def _singular_verb(word: str) -> bool:
    """A verb a single name takes as its subject: "Raj is", "Kenji maintains" (not "Logs are")."""
    return word in lx.SINGULAR_AUXILIARIES or (
        word in lx.VERB_FORMS and word.endswith("s") and not word.endswith("ss")
    )


def read(text: str) -> Reading:
    """A statement as words of a kind, with what it is about marked."""
    return _read_short(text) if len(text) <= CACHED_CHARS else _read(text)


CACHED_CHARS = 1_000


@lru_cache(maxsize=4096)  # the same stored memories are read again as candidates of new ones
def _read_short(text: str) -> Reading:
    return _read(text)


def _set_phrase(negated: str, following: str) -> bool:
    """A negation that denies nothing: "can't wait", "couldn't believe", "no doubt" (``negated``:
    "can", "could" or "no", the word the negation belongs to)."""
    return (negated in ("can", "could") and following in lx.EMPHATIC_NEGATED) or (
        negated == "no" and following in lx.NO_PHRASES
    )


def _read(text: str) -> Reading:
    # "7:45 p.m." is "7:45 pm", and no sentence end unless a capital follows ("7 p.m. Tom ...")
    text = _MERIDIEM.sub(r"\1m", _MERIDIEM_ENDING.sub(r"\1m.", text))
    words = _Reader(text).run()
    pivot = _pivot(words, text)
    key: set[int] = set(range(pivot)) if pivot is not None else set()
    if pivot is not None and pivot < len(words) and words[pivot].norm in lx.COPULAS:
        complement = [word for word in words[pivot + 1 :] if word.kind not in ("negation", "cue")]
        subject_owned = words[0].norm in lx.POSSESSIVE_DETERMINERS
        if complement and complement[0].norm in lx.POSSESSIVE_DETERMINERS and not subject_owned:
            key = {word.index for word in complement}  # "Maria is our team lead": about the role
    # Any negation or negative stance makes it negative: "doesn't agree with me, so I avoid it".
    negative = any(word.kind == "negation" or word.norm == "-stance" for word in words)
    after = [word for word in words[pivot : pivot + 3] if word.verbish] if pivot is not None else []
    verb = after[0].norm if after else None  # "is carrying": the verb after an auxiliary
    headed = pivot is not None and _colon_headed(text)
    label = (
        tuple(word.norm for word in words[:pivot] if word.kind not in ("cue", "function")) if headed else ()
    )
    # A question states nothing; a long text or several sentences state more than one fact.
    stripped = _ABBREVIATION.sub(r"\1", text.strip())
    one_fact = (
        len(words) <= ONE_FACT_WORDS and not _SENTENCE_END.search(stripped) and not stripped.endswith("?")
    )
    tense = _tense(words)
    # "took over the team from Priya", "handed over the keys": a change of hands
    handed = any(  # not "takes over 10 hours"
        a.text.lower() in lx.HAND_OVER and b.text.lower() == "over" and (c is None or c.kind != "value")
        for a, b, c in zip(words, words[1:], [*words[2:], None], strict=False)
    )
    reports = handed or any(tells_a_change(word) for word in words)
    return Reading(
        tuple(words), frozenset(key), int(negative), _ordered(words), verb, label, one_fact, tense, reports
    )


def tells_a_change(word: Word) -> bool:
    lower = word.text.lower()
    ended = word.kind == "negation" and lower not in lx.NEGATIONS and lower != "n't"  # "quit", "gave up"
    return (
        ended
        or lower in lx.CHANGE_CUES
        or lower in lx.CHANGE_VERBS
        or lower in lx.MOVING
        or lx.stem(lower) in lx.CHANGE_STEMS
    )


def _tense(words: list[Word]) -> str:
    for word in words:
        if word.norm in lx.PAST_AUXILIARIES:
            return "past"
        if word.norm in lx.PRESENT_AUXILIARIES:
            return "present"
    return ""


def _colon_headed(text: str) -> bool:
    colon = re.search(r"(?<!\d):(?!\d)", text)
    return colon is not None and 0 < len(text[: colon.start()].split()) <= 4


def _pivot(words: list[Word], text: str) -> int | None:
    """Index of the first word after what the statement is about, or None if it has none."""
    colon = re.search(r"(?<!\d):(?!\d)", text)
    if colon is not None:
        before = sum(1 for word in words if word.start < colon.start())
        if 0 < before <= 4:
            return before
    begin = 1
    comma = text.find(",")
    if words and words[0].norm in lx.SUBORDINATORS and comma > 0:  # "After the review, we ..."
        begin = sum(1 for word in words if word.start < comma) + 1
    for word in words[begin:]:
        previous = words[word.index - 1]
        if word.norm in lx.AUXILIARIES or word.kind == "stance":
            return word.index
        if previous.norm in lx.PRONOUN_SUBJECTS and word.kind not in ("negation", "cue"):
            return word.index
        if word.verbish and previous.norm not in lx.DETERMINERS:
            return word.index
    for word in words[2:]:  # no verb: "Flight home at 18:20" is about what precedes the preposition
        if word.norm in lx.PREPOSITIONS:
            return word.index
    return None


def _ordered(words: list[Word]) -> tuple[frozenset[str], frozenset[str]] | None:
    """What a preference puts first and what it puts second ("tabs over spaces"), as stems."""
    marker = next((word for word in words if word.norm in lx.COMPARATIVE_MARKERS), None)
    if marker is None:
        return None
    meaningful = [word for word in words if word.kind in ("value", "content", "verb")]
    before = frozenset(lx.stem(w.text.lower()) for w in meaningful if w.index < marker.index)
    after = frozenset(lx.stem(w.text.lower()) for w in meaningful if w.index > marker.index)
    return (before, after) if before and after else None
