"""How a new statement differs from a stored one, read without an LLM.

``compare(new, old)`` reads both statements into words of a few kinds (values: numbers, dates,
times, names, codes; content words; verbs; negations and stance) and says which of three
things the new one is:

- ``same``: it holds no information the stored one lacks: a reworded repeat, or less;
- ``changed``: the same thing with another value: a number, name, date or code swapped, a
  word swapped where a fact's value sits (``tabs`` / ``spaces``), a negation or a preference
  turned around;
- ``distinct``: another fact that merely looks alike, because what it is *about* differs
  (``My brother ...`` / ``My sister ...``, ``The frontend ...`` / ``The backend ...``), or one
  that adds to the stored one.

What a fact is about is read from its shape: the words before its first verb (or before a
colon, as in ``Alice: ...``), or the complement of ``X is my Y``. Two statements are compared
word for word only when they are built alike (``parallel``); a reworded statement is judged by
its values and its stance alone, and the caller asks for a high cosine similarity besides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from difflib import SequenceMatcher
from functools import lru_cache
from typing import Literal

from remembrancer import lexicon as lx

Verdict = Literal["same", "changed", "distinct"]
Kind = Literal["value", "content", "verb", "negation", "stance", "cue", "function"]

_TOKEN = re.compile(
    r"(?P<number>[vV]?\d+(?:[.,:/-]\d+)*[^\W\d_]*)"
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
_SENTENCE_END = re.compile(r"[.!?](?=\s+\S)")
_PARALLEL = 0.7  # share of words two statements built alike have in common, in order


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


@dataclass(frozen=True)
class Comparison:
    verdict: Verdict
    change: str = ""  # for "changed": what changed, e.g. "value changed: 4411 → 9376"
    guard: tuple[str, ...] = ()  # the stored statement's own words: a query naming one asks about it
    new_information: bool = False  # the new statement holds a value, stance or subject the stored lacks
    pair_guard: tuple[str, ...] = ()  # weaker words of its own: a query must name two of them
    adds_nothing: bool = False  # "same", and every word the new statement holds is in the stored one


def stem(word: str) -> str:
    """A light suffix stripper: enough to match lives/living/lived or spaces/space (and British
    and American spellings: centre/center, colour/color, organise/organize)."""
    word = re.sub(r"(?<=[a-z]{3})tre(s?)$", r"ter\1", word)
    word = re.sub(r"(?<=[a-z]{2}[^aeiou])our(s?)$", r"or\1", word)
    word = re.sub(r"(?<=[a-z]{3})is(e|es|ed|ing|ation)$", r"iz\1", word)
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 5 and word.endswith("ing"):
        word = word[:-3]
    elif (len(word) > 4 and word.endswith("ed")) or (
        len(word) > 4 and word.endswith(("ches", "shes", "sses", "xes"))
    ):
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiouls":
        word = word[:-1]
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    return word


def _time_or_number(digits: str, meridiem: str) -> str:
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


def _seconds(count: str, unit: int) -> str:
    return f"{float(count) * unit:g}s"


class _Reader:
    """Turns raw tokens into words of a kind, one statement at a time."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = {0} | {
            match.end()
            for match in _SENTENCE_BREAK.finditer(text)
            if not re.search(
                r"\b(?:dr|mr|mrs|ms|st|prof|sr|jr|vs|etc|no)$", text[: match.start()], re.IGNORECASE
            )
        }
        self.tokens = list(_TOKEN.finditer(text))
        self.words: list[Word] = []

    def add(self, raw: str, norm: str, kind: Kind, start: int, **flags: bool) -> None:
        self.words.append(Word(raw, norm, kind, len(self.words), start, **flags))

    def at_sentence_start(self, start: int) -> bool:
        return any(begin <= start and not self.text[begin:start].strip(" \"'([*-") for begin in self.starts)

    def run(self) -> list[Word]:
        for position, match in enumerate(self.tokens):
            raw, start = match.group(), match.start()
            following = self.tokens[position + 1].group().lower() if position + 1 < len(self.tokens) else ""
            lower = raw.lower().replace("’", "'")
            if match.lastgroup == "number":
                self.number(raw, start, following)
            elif match.lastgroup in ("address", "code"):
                self.code(raw, lower, start)
            elif lower in ("am", "pm") and self.words and self.words[-1].kind == "value":
                continue  # joined to the number before it: "9 am"
            elif lower.endswith("n't"):
                base = {"ca": "can", "wo": "will", "sha": "shall"}.get(lower[:-3], lower[:-3])
                self.add(raw, base, "function", start)
                self.add("n't", "not", "negation", start)
            elif lower.endswith(_CONTRACTED_AUX) or (lower.endswith("'s") and lower[:-2] in _S_IS_AUX):
                suffix = lower[lower.rindex("'") :]
                self.add(raw, lower[: -len(suffix)], "function", start)
                self.add(suffix, suffix, "function", start)
            elif lower.endswith("'s"):
                self.word(raw[:-2], lower[:-2], start, following, possessive=True)
            else:
                self.word(raw, lower, start, following, possessive=False)
        return self.words

    def number(self, raw: str, start: int, following: str) -> None:
        digits = re.match(r"[vV]?\d+(?:[.,:/-]\d+)*", raw)
        assert digits is not None  # the token pattern begins with one
        value, unit = digits.group().lower().lstrip("v"), raw[digits.end() :].lower()
        meridiem = (
            unit if unit in ("am", "pm") else following if following in ("am", "pm") and not unit else ""
        )
        self.add(raw, _time_or_number(value, meridiem), "value", start, name=True)
        if unit and unit not in ("am", "pm", "st", "nd", "rd", "th", "h"):
            self.add(unit, stem(unit), "content", start)

    def code(self, raw: str, lower: str, start: int) -> None:
        prefix, _, rest = lower.partition("-")
        if rest[:1].isdigit() and len(prefix) > 3:  # "Apache-2.0" is a name and a version
            self.word(raw[: len(prefix)], prefix, start, rest, possessive=False)
            self.add(raw[len(prefix) + 1 :], _time_or_number(rest, ""), "value", start, name=True)
        else:
            self.add(raw, lower.rstrip(".").replace("’", "'"), "value", start, name=True)

    def word(self, raw: str, lower: str, start: int, following: str, *, possessive: bool) -> None:
        at_start = self.at_sentence_start(start)
        capitalised = raw[:1].isupper()
        flat = lower.replace("-", "")
        name = (
            (capitalised and not at_start and lower not in lx.FUNCTION_WORDS)
            or (len(raw) > 1 and raw.isupper() and lower != "i")
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
                self.words[-1], text=f"{self.words[-1].text} {raw}", norm=_seconds(previous, unit)
            )
        elif unit is not None and previous in ("a", "an", "every", "each", "per"):
            self.add(raw, _seconds("1", unit), "value", start, **flags)
        elif flat in lx.PERIODS:  # "weekly" is every week
            self.add(raw, _seconds("1", lx.PERIODS[flat]), "value", start, **flags)
        elif flat == "one" and previous not in lx.DETERMINERS and previous != "which":
            self.add(raw, "1", "value", start, **flags)
        elif (
            flat in lx.NEGATIONS
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
        elif flat in lx.FREQUENCY_WORDS or flat in lx.NUMBER_WORDS:
            self.add(raw, lx.NUMBER_WORDS.get(flat, flat), "value", start, **flags)
        elif flat in lx.FUNCTION_WORDS or flat in lx.PRONOUN_SUBJECTS:
            self.add(raw, flat, "function", start, **flags)
        elif flat in lx.MOVING and following == "to":  # "I moved to Porto": where one lives now
            self.add(raw, "+home", "verb", start, **flags)
        elif flat in lx.CHANGE_CUES or flat in lx.FILLER or flat in lx.LIGHT_VERBS or flat in lx.CHANGE_VERBS:
            self.add(raw, flat, "cue", start, **flags)
        elif name:  # stemmed like any word, so "Jonas" matches itself read as a common word
            self.add(raw, stem(flat), "value", start, name=True, **flags)
        else:
            norm = lx.SYNONYM_CLASSES.get(flat, stem(flat))
            kind: Kind = "cue" if norm in lx.LIGHT_CLASSES else "verb" if verbish else "content"
            self.add(raw, norm, kind, start, **flags)


def _singular_verb(word: str) -> bool:
    """A verb a single name takes as its subject: "Raj is", "Kenji maintains" (not "Logs are")."""
    return word in lx.SINGULAR_AUXILIARIES or (
        word in lx.VERB_FORMS and word.endswith("s") and not word.endswith("ss")
    )


@lru_cache(maxsize=4096)  # the same stored memories are read again as candidates of new ones
def read(text: str) -> Reading:
    """A statement as words of a kind, with what it is about marked."""
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
    return Reading(tuple(words), frozenset(key), int(negative), _ordered(words), verb, label, one_fact)


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
    meaningful = [word for word in words if word.kind in ("value", "content", "verb")]
    for marker in words:
        if marker.norm in lx.COMPARATIVE_MARKERS:
            before = frozenset(stem(w.text.lower()) for w in meaningful if w.index < marker.index)
            after = frozenset(stem(w.text.lower()) for w in meaningful if w.index > marker.index)
            if before and after:
                return before, after
    return None


def _reversed(new: Reading, old: Reading) -> bool:
    """Something moved from before the comparison to after it, and something the other way."""
    if new.ordered is None or old.ordered is None:
        return False
    (old_first, old_second), (new_first, new_second) = old.ordered, new.ordered
    return bool(old_first & new_second) and bool(old_second & new_first)


def values_only_in(new: str, old: str) -> list[str]:
    """The numbers, dates, names and codes ``new`` states that ``old`` does not."""
    known = {word.norm for word in read(old).words if word.kind == "value"}
    return list(dict.fromkeys(w.text for w in read(new).words if w.kind == "value" and w.norm not in known))


def compare(new: str, old: str) -> Comparison:
    """What ``new`` is relative to ``old``: the same information, a changed value, or another fact."""
    return compare_readings(read(new), read(old))


def compare_readings(new: Reading, old: Reading) -> Comparison:
    new_words = [word for word in new.words if word.kind in _INFORMATIVE]
    old_words = [word for word in old.words if word.kind in _INFORMATIVE]
    new_norms, old_norms = {word.norm for word in new_words}, {word.norm for word in old_words}
    new_only = [word for word in new_words if word.norm not in old_norms]
    old_only = [word for word in old_words if word.norm not in new_norms]
    new_values = [word for word in new_only if word.kind == "value"]
    old_values = [word for word in old_only if word.kind == "value"]
    relations = (
        {w.norm for w in new_only if w.norm.startswith("+")},
        {w.norm for w in old_only if w.norm.startswith("+")},
    )
    if all(relations):  # "I live in ..." / "I work in ...": another relation
        return Comparison("distinct", new_information=True)
    if new.label and old.label and new.label != old.label:  # "Alice: ..." / "Bob: ...": someone else
        return Comparison("distinct", new_information=True)
    if not (new.one_fact and old.one_fact):
        # Passages (a conversation turn, a summary) hold many facts: one of their values differing
        # is no sign that one replaces the other, and they repeat each other only word for word.
        same = not new_only and new.stance == old.stance
        return Comparison("same" if same else "distinct", adds_nothing=same)
    if _reversed(new, old):
        guard = tuple(dict.fromkeys(word.norm for word in old_values))
        return Comparison("changed", "preference reversed", guard, True)
    if _parallel(new, old):
        return _compare_alike(new, old, old_only)
    # Reworded: only values and stance can be compared; the caller asks for close meaning besides.
    if not _values_swapped(new, old) and _about_another_subject(new, old, _slots(new, old)):
        return Comparison("distinct", new_information=True)
    shared = {w.norm for w in new_words if w.norm in old_norms and w.norm not in new.label}
    if not shared:
        return Comparison("distinct", new_information=bool(new_values))  # nothing in common to change
    guard = tuple(dict.fromkeys(word.norm for word in old_values if not word.text.isupper()))
    pair_guard = tuple(dict.fromkeys(w.norm for w in old_only if w.kind == "content"))
    if new.stance != old.stance:
        return Comparison(
            "changed", _negation_change(new_only, old_only, new.stance), guard, True, pair_guard
        )
    if new_values and old_values:
        change = f"value changed: {_phrase(old_values)} → {_phrase(new_values)}"
        return Comparison("changed", change, guard, True, pair_guard)
    if new_values:
        return Comparison("distinct", new_information=True)  # it adds a value
    new_content = [
        word for word in new_only if word.kind == "content" and not _names_a_kind(word, new, old_norms)
    ]
    if new_content and (not old_only or len(new_content) > max(1, len(new_words) // 4)):
        return Comparison("distinct")  # it adds a detail, or says much the stored one does not
    return Comparison("same", adds_nothing=not new_only)


def _names_a_kind(word: Word, reading: Reading, known: set[str]) -> bool:
    """A noun that only says what kind of thing a known one is: "a vegan *diet*" (after a known
    word, ending its phrase) or "the violin is the *instrument*" (after "is the")."""
    before = reading.words[word.index - 1] if word.index > 0 else None
    after = reading.words[word.index + 1] if word.index + 1 < len(reading.words) else None
    ends_phrase = after is None or after.kind in ("function", "cue")
    if before is not None and before.norm in known and before.kind in ("content", "value") and ends_phrase:
        return True
    two_before = reading.words[word.index - 2] if word.index > 1 else None
    return (
        before is not None
        and before.norm in lx.DETERMINERS
        and two_before is not None
        and two_before.norm in lx.COPULAS
    )


def _compare_alike(new: Reading, old: Reading, old_only: list[Word]) -> Comparison:
    """Statements built alike: a change is one slot swapped; two slots make another fact."""
    guard = tuple(dict.fromkeys(word.norm for word in old_only if word.kind != "verb"))
    slots = _slots(new, old)
    if _about_another_subject(new, old, slots):
        return Comparison("distinct", new_information=True)
    if new.stance != old.stance:
        new_only = [word for _, after in slots for word in after]
        return Comparison("changed", _negation_change(new_only, old_only, new.stance), guard, True)
    swaps = [(before, after) for before, after in slots if before]
    added = [word for before, after in slots if not before for word in after if word.kind != "verb"]
    if len(swaps) >= 2:
        return Comparison("distinct", new_information=True)  # several things differ: another fact
    dropped = [word for word in old_only if word.kind == "value"]
    if not swaps and any(word.kind == "value" for word in added) and dropped:  # a value moved as it changed
        swaps = [(dropped, [word for word in added if word.kind == "value"])]
    elif not swaps and added:
        return Comparison("distinct", new_information=any(word.kind == "value" for word in added))  # adds
    if not swaps or all(word.kind == "verb" for word in swaps[0][0] + swaps[0][1]):
        # Nothing, or only a verb, said otherwise: "written" / "implemented".
        return Comparison("same", adds_nothing=not any(after for _, after in slots))
    before, after = swaps[0]
    kind = "value changed" if any(word.kind == "value" for word in before + after) else "changed"
    return Comparison("changed", f"{kind}: {_phrase(before)} → {_phrase(after)}", guard, True)


_INFORMATIVE = ("value", "content", "verb")


def _skeleton(reading: Reading) -> list[str]:
    """The statement's words in order, cues left out and every value one wildcard."""
    return ["#" if word.kind == "value" else word.norm for word in reading.words if word.kind != "cue"]


def _parallel(new: Reading, old: Reading) -> bool:
    """Built alike: most words the same, in the same order (so a swap is a swap, not a rewording)."""
    return SequenceMatcher(None, _skeleton(old), _skeleton(new), autojunk=False).ratio() >= _PARALLEL


def _slots(new: Reading, old: Reading) -> list[tuple[list[Word], list[Word]]]:
    """Where two statements built alike differ: (old words, new words), informative ones only.
    A word the new one leaves out is no slot: saying less is not saying something else."""
    old_words = [word for word in old.words if word.kind != "cue"]
    new_words = [word for word in new.words if word.kind != "cue"]
    matcher = SequenceMatcher(None, [w.norm for w in old_words], [w.norm for w in new_words], autojunk=False)
    old_norms, new_norms = {word.norm for word in old_words}, {word.norm for word in new_words}
    slots = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():  # a word moved elsewhere is no difference
        before = [
            word for word in old_words[i1:i2] if word.kind in _INFORMATIVE and word.norm not in new_norms
        ]
        after = [
            word for word in new_words[j1:j2] if word.kind in _INFORMATIVE and word.norm not in old_norms
        ]
        if tag != "equal" and after:
            slots.append((before, after))
    return slots


def _about_another_subject(new: Reading, old: Reading, slots: list[tuple[list[Word], list[Word]]]) -> bool:
    """A subject swapped ("My brother's ..." / "My sister's ..."), a possessed one added in its
    place ("I live ..." / "My brother lives ..."), or roles traded around one verb ("A man
    carries a dog" / "A dog carries a man")."""
    if _roles_traded(new, old):
        return True
    for before, after in slots:
        if before and _names_subject(before, old) and _names_subject(after, new):
            return True
        if not before and any(_possessed(word, new) and word.index in new.key for word in after):
            return True
    return False


def _roles_traded(new: Reading, old: Reading) -> bool:
    def subject(reading: Reading) -> set[str]:
        return {w.norm for w in reading.words if w.index in reading.key and w.kind in ("content", "value")}

    old_subject, new_subject = subject(old), subject(new)
    if (
        not old_subject
        or not new_subject
        or old_subject == new_subject
        or not old.verb
        or old.verb != new.verb
    ):
        return False
    old_rest = {w.norm for w in old.words if w.index not in old.key}
    return bool(new_subject & old_rest) and bool(old_subject - new_subject)


def _possessed(word: Word, reading: Reading) -> bool:
    """A noun right after "my", "our", ... or after a possessive ("Daniel's daughter")."""
    if word.kind != "content" or word.index == 0:
        return False
    previous = reading.words[word.index - 1]
    return previous.norm in lx.POSSESSIVE_DETERMINERS or previous.possessive


def _values_swapped(new: Reading, old: Reading) -> bool:
    new_values = {word.norm for word in new.words if word.kind == "value"}
    old_values = {word.norm for word in old.words if word.kind == "value"}
    return bool(new_values - old_values) and bool(old_values - new_values)


def _names_subject(words: list[Word], reading: Reading) -> bool:
    return any(
        (word.index in reading.key and (word.kind == "content" or (word.kind == "value" and not word.name)))
        or (word.possessive and word.kind in ("content", "value"))
        for word in words
    )


def _phrase(words: list[Word]) -> str:
    return " ".join(dict.fromkeys(word.text for word in words))


def _negation_change(new_only: list[Word], old_only: list[Word], negated: int) -> str:
    return "now stated as not true" if negated else "now stated as true (no longer negated)"
