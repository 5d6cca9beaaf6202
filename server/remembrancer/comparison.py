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
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from itertools import pairwise
from typing import Literal

from remembrancer import lexicon as lx
from remembrancer.quantities import amount_or_time
from remembrancer.related_words import related
from remembrancer.statements import INFORMATIVE, Reading, Word, read, tells_a_change
from remembrancer.told_changes import set_to_new_value, told_swap

Verdict = Literal["same", "changed", "distinct"]
_PARALLEL = 0.7  # share of words two statements built alike have in common, in order


@dataclass(frozen=True)
class Comparison:
    verdict: Verdict
    change: str = ""  # for "changed": what changed, e.g. "value changed: 4411 → 9376"
    guard: tuple[str, ...] = ()  # the stored statement's own words: a query naming one asks about it
    new_information: bool = False  # the new statement holds a value, stance or subject the stored lacks
    pair_guard: tuple[str, ...] = ()  # weaker words of its own: a query must name two of them
    adds_nothing: bool = False  # "same", and every word the new statement holds is in the stored one
    needs_support: bool = False  # "changed" only if the two are close in meaning (see dedup.py)


def _turned_round(new: Reading, old: Reading) -> str:
    """What an opposite word or a change of tense turned round, or "" (e.g. "changed: on → off")."""
    new_words = {word.text.lower() for word in new.words}
    old_words = {word.text.lower() for word in old.words}
    for word in sorted(old_words - new_words):
        opposite = lx.OPPOSITES.get(word)
        if opposite is not None and opposite in new_words and opposite not in old_words:
            return f"changed: {word} → {opposite}"
    if new.tense and old.tense and new.tense != old.tense:
        return "now stated in the past" if new.tense == "past" else "now stated in the present"
    return ""


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
    new_words = [word for word in new.words if word.kind in INFORMATIVE]
    old_words = [word for word in old.words if word.kind in INFORMATIVE]
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
    shared = {w.norm for w in new_words if w.norm in old_norms and w.norm not in new.label}
    shared |= (_compound_parts(new_words) & old_norms) | (new_norms & _compound_parts(old_words))
    turned = _turned_round(new, old) if shared else ""  # nothing in common: nothing turned round
    if not (new.one_fact and old.one_fact):
        # Passages (a conversation turn, a summary) hold many facts: one of their values differing
        # is no sign that one replaces the other, and they repeat each other only word for word.
        same = not new_only and new.stance == old.stance and not turned
        return Comparison("same" if same else "distinct", adds_nothing=same)
    if _adds_another(new) and not _adds_another(old) and not new.reports_change:
        return Comparison("distinct", new_information=True)  # "I adopted a second cat": one more
    swap = told_swap(new, old_norms)
    if swap is not None:  # "passed from Kenji to Olga": the old value named, and what replaced it
        change = f"value changed: {swap.before.text} → {swap.after.text}"
        return Comparison("changed", change, (swap.before.norm,), True, needs_support=not swap.reported)
    if turned:  # "before lunch" / "after lunch", "is the lead" / "was the lead"
        guard = tuple(dict.fromkeys(word.norm for word in old_values))
        # Reworded, a tense or an opposite is no sign on its own: "I went to a support group" /
        # "The group has made me feel accepted" tell two things.
        supported = new.reports_change or _parallel(new, old)
        return Comparison("changed", turned, guard, True, needs_support=not supported)
    if _reversed(new, old):
        guard = tuple(dict.fromkeys(word.norm for word in old_values))
        return Comparison("changed", "preference reversed", guard, True)
    if _parallel(new, old):
        return _compare_alike(new, old, old_only)
    # Reworded: only values and stance can be compared; the caller asks for close meaning besides.
    slots = _slots(new, old)
    if _about_another_subject(new, old, slots) and (
        not _values_swapped(new, old) or _another_named_subject(new, old, slots)
    ):
        return Comparison("distinct", new_information=True)
    times = {word.norm for word in new_words if word.kind == "value" and amount_or_time(word.norm)}
    if not shared or (new.reports_change and not shared - times):
        # Nothing in common to change. A change told ("now") asks no close meaning, so a time or an
        # amount alone in common ("on Thursdays") is not enough: it names no subject.
        return Comparison("distinct", new_information=bool(new_values))
    guard = tuple(dict.fromkeys(word.norm for word in old_values if not word.text.isupper()))
    # The stored statement's own words, less those the new one says in other words ("heart" /
    # "pulse"): a query naming them asks about the older wording only if the new one lacks them.
    reworded = {w.text.lower() for w in new_only}
    pair_guard = tuple(
        dict.fromkeys(
            w.norm
            for w in old_only
            if w.kind == "content" and not reworded.intersection(o for o, _ in related(w.text.lower()))
        )
    )
    # Reworded, a change needs support: a word that reports one ("now", "moved", "switched") or,
    # from the caller, a close meaning; else "Alice is 34" / "Alice has worked here 6 years" link.
    unsupported = not (new.reports_change or set_to_new_value(new, old, new_norms, old_norms))
    if new.stance != old.stance:
        # A value swapped and a stance turned are two differences: another fact ("2.3 added
        # retries" / "2.4 dropped Python 3.8"), unless a word besides the negation tells of a change.
        told = any(tells_a_change(word) for word in new.words if word.kind != "negation")
        if new_values and old_values and not told:
            return Comparison("distinct", new_information=True)
        change = _negation_change(new_only, old_only, new.stance)
        return Comparison("changed", change, guard, True, pair_guard, needs_support=unsupported)
    if new_values and old_values:
        change = f"value changed: {_phrase(old_values)} → {_phrase(new_values)}"
        return Comparison("changed", change, guard, True, pair_guard, needs_support=unsupported)
    if new_values:
        return Comparison("distinct", new_information=True)  # it adds a value
    new_content = [
        word for word in new_only if word.kind == "content" and not _names_a_kind(word, new, old_norms)
    ]
    if new_content and (not old_only or len(new_content) > max(1, len(new_words) // 4)):
        return Comparison("distinct")  # it adds a detail, or says much the stored one does not
    return Comparison("same", adds_nothing=not new_only)


def _compound_parts(words: list[Word]) -> set[str]:
    """The norms of the parts of hyphenated words, so "home-office" shares "home" with "from home"."""
    split = (part for w in words if "-" in w.text for part in w.text.lower().split("-") if len(part) > 2)
    return {lx.SYNONYM_CLASSES.get(part, lx.stem(part)) for part in split}


def _adds_another(reading: Reading) -> bool:
    """The statement says it adds to what is known: "another", "also", "as well", "one more",
    "a second ...", or "too" at its end ("too" before a word is "too slow")."""
    texts = [word.text.lower() for word in reading.words]
    if any(text in lx.ADDING for text in texts) or (texts and texts[-1] == "too"):
        return True
    pairs = set(pairwise(texts))
    return bool(pairs & {("as", "well"), ("one", "more"), ("a", "second"), ("a", "third")})


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
    if new.stance != old.stance and not _values_swapped(new, old):
        new_only = [word for _, after in slots for word in after]
        return Comparison("changed", _negation_change(new_only, old_only, new.stance), guard, True)
    swaps = [(before, after) for before, after in slots if before]
    if new.reports_change:  # told as a change, values side by side are one: "moved to Wednesdays at 14:30"
        swaps = _one_value_phrase(swaps, new, old)
    added = [word for before, after in slots if not before for word in after if word.kind != "verb"]
    if len(swaps) >= 2:
        return Comparison("distinct", new_information=True)  # several things differ: another fact
    dropped = [word for word in old_only if word.kind == "value"]
    if not swaps and any(word.kind == "value" for word in added) and dropped:  # a value moved as it changed
        swaps = [(dropped, [word for word in added if word.kind == "value"])]
    elif not swaps and added:
        return Comparison("distinct", new_information=any(word.kind == "value" for word in added))  # adds
    if not swaps:  # nothing said otherwise, unless a verb gave way to one that tells an event
        told = {w.norm for w in new.words if w.kind == "cue" and w.text.lower() in lx.CHANGE_VERBS}
        if told - {w.norm for w in old.words} and any(word.kind == "verb" for word in old_only):
            return Comparison("distinct", new_information=True)  # "hired Lena" / "promoted Lena"
        return Comparison("same", adds_nothing=not any(after for _, after in slots))
    if all(word.kind == "verb" for word in swaps[0][0] + swaps[0][1]):
        # Only a verb said otherwise is another fact ("bought" / "sold", "opens" / "closes"); verbs
        # of one relation ("live" / "reside") share a norm, so they are no swap.
        return Comparison("distinct", new_information=True)
    before, after = swaps[0]
    kind = "value changed" if any(word.kind == "value" for word in before + after) else "changed"
    return Comparison("changed", f"{kind}: {_phrase(before)} → {_phrase(after)}", guard, True)


def _one_value_phrase(
    swaps: list[tuple[list[Word], list[Word]]], new: Reading, old: Reading
) -> list[tuple[list[Word], list[Word]]]:
    """A day and a clock time swapped side by side, with only a preposition between them, are one
    time said otherwise: "on Tuesdays at 10:00" / "moved to Wednesdays at 14:30" (a verb telling the
    change, "moved", is no part of it). Only days, dates and clock times: "flat 4 is 900 EUR" /
    "flat 5 is now 950 EUR" and "3.1% in May" / "2.4% in June" are two differences, another fact."""

    def telling(word: Word) -> bool:
        return word.text.lower() in lx.CHANGE_VERBS or word.kind == "cue"

    befores = [before for before, _ in swaps]
    afters = [[w for w in after if not telling(w)] for _, after in swaps]
    if len(swaps) < 2 or not all(afters) or not all(map(_schedule, befores + afters)):
        return swaps

    def side_by_side(words: Sequence[Word], sides: list[list[Word]]) -> bool:
        for earlier, later in pairwise(sides):
            gap = words[max(w.index for w in earlier) + 1 : min(w.index for w in later)]
            if not all(telling(w) or w.norm in _SCHEDULE_LINKS for w in gap):
                return False
        return True

    if side_by_side(old.words, befores) and side_by_side(new.words, afters):
        return [([w for words in befores for w in words], [w for words in afters for w in words])]
    return swaps


#: What may stand between a day and its time in one schedule: "Tuesdays at 10:00", "May 3, 9am".
_SCHEDULE_LINKS = frozenset({"at", "on", "from", "by", ","})
_CLOCK_TEXT = re.compile(r"\d{1,2}(?::\d\d|\s?[ap]\.?m\.?)|\d{1,2}(?:st|nd|rd|th)", re.IGNORECASE)


def _schedule(words: list[Word]) -> bool:
    """Days, dates and clock times only ("Tuesdays", "3rd", "10:00", "9am")."""
    return all(
        word.kind == "value"
        and (word.norm in lx.CALENDAR_WORDS.values() or _CLOCK_TEXT.fullmatch(word.text) is not None)
        for word in words
    )


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
            word for word in old_words[i1:i2] if word.kind in INFORMATIVE and word.norm not in new_norms
        ]
        after = [word for word in new_words[j1:j2] if word.kind in INFORMATIVE and word.norm not in old_norms]
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


def _another_named_subject(new: Reading, old: Reading, slots: list[tuple[list[Word], list[Word]]]) -> bool:
    """A subject that names someone or something else ("The iOS app's ID" / "The Android app's
    ID"): with its value swapped too, that is another subject's fact. A subject that names nothing
    ("The rent", "My manager") may change its value."""
    return any(
        before
        and after
        and any(word.index in old.key for word in before)
        and any(word.index in new.key and word.name for word in after)
        for before, after in slots
    )


def _roles_traded(new: Reading, old: Reading) -> bool:
    def subject(reading: Reading) -> set[str]:
        return {w.norm for w in reading.words if w.index in reading.key and w.kind in ("content", "value")}

    old_subject, new_subject = subject(old), subject(new)
    if not old_subject or not new_subject or not old.verb or old.verb != new.verb:
        return False
    new_passive = _passive(new)
    if new_passive != _passive(old):  # "Chiara maintains X" / "X is maintained by Chiara": the same,
        # unless the doer differs: "X is reviewed by the backend team" / "The frontend team reviews ..."
        return _agent(new) != old_subject if new_passive else _agent(old) != new_subject
    if old_subject == new_subject:
        return False
    old_rest = {w.norm for w in old.words if w.index not in old.key}
    return bool(new_subject & old_rest) and bool(old_subject - new_subject)


def _agent(reading: Reading) -> set[str]:
    """Who does what a passive statement says: the words after its "by"."""
    by = next(w.index for w in reading.words if w.norm == "by")
    return {w.norm for w in reading.words[by + 1 :] if w.kind in ("content", "value")}


def _passive(reading: Reading) -> bool:
    """Its verb is said of the subject by someone else: "is maintained by", "was taken by"."""
    words = reading.words
    return any(
        word.norm == reading.verb
        and 0 < word.index < len(words) - 1
        and words[word.index + 1].norm == "by"
        and words[word.index - 1].norm in lx.COPULAS
        for word in words
    )


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
