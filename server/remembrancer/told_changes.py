"""A change told in so many words, read from a new statement beside a stored one: "from A to B",
"replaced A with B", "B instead of A", or an amount or a time set "to" a new one. Such words say
the new statement replaces the stored one, where a reworded statement alone would not."""

from __future__ import annotations

import re

from remembrancer import lexicon as lx
from remembrancer.statements import Reading, Word

_INFORMATIVE = ("value", "content", "verb")  # the kinds of word that carry a fact
_CALENDAR_NORMS = frozenset(lx.CALENDAR_WORDS.values())
_AMOUNT = re.compile(r"[-\u2212$€£¥]*\d")  # a value's norm that is a number, an amount or a time


def _value_after(reading: Reading, index: int) -> Word | None:
    """The informative word a preposition at ``index`` leads to, past determiners ("to the 48")."""
    for word in reading.words[index + 1 : index + 3]:
        if word.kind in _INFORMATIVE:
            return word
        if word.norm not in lx.DETERMINERS:
            return None
    return None


def told_swap(new: Reading, old_norms: set[str]) -> tuple[Word, Word] | None:
    """The words A and B of a change told in so many words, A a word of the stored statement and
    B not: "from A to B", "out of A and into B", "replaced A with B", "swapped A for B",
    "B instead of A", "B rather than A"."""
    words = new.words
    for word in words:
        after: Word | None = None
        out_of = word.norm == "of" and word.index > 0 and words[word.index - 1].norm == "out"
        if word.norm == "from" or out_of or word.text.lower() in lx.SWAP_VERBS:
            before = _value_after(new, word.index)
            if before is None or before.norm not in old_norms:
                continue
            ahead = words[before.index + 1 : before.index + 4]
            lead = next((w for w in ahead if w.norm in ("to", "into", "with", "for")), None)
            after = _value_after(new, lead.index) if lead is not None else None
            if lead is None and word.norm == "from" and new.reports_change:  # "Tomás took over from Priya"
                after = next((w for w in words if w.kind == "value" and w.norm not in old_norms), None)
        elif word.text.lower() in ("instead", "rather") and word.index + 2 < len(words):
            before = _value_after(new, word.index + 1)  # "instead of A", "rather than A"
            if before is None or before.norm not in old_norms:
                continue
            told = [w for w in words[: word.index] if w.kind in _INFORMATIVE and w.norm not in old_norms]
            after = told[-1] if told else None
        else:
            continue
        if after is not None and after.norm not in old_norms and after.norm != before.norm:
            return before, after
    return None


def set_to_new_value(new: Reading, old: Reading, new_norms: set[str], old_norms: set[str]) -> bool:
    """The new statement sets an amount or a time to one the stored one lacks ("repartitioned the
    topic to 48", "moved standup to Thursday") where the stored one held its own otherwise ("has
    12 partitions"): a change told. Names are left out: "gave the bike to Anna" is a recipient."""

    def led_by_to(reading: Reading, others: set[str]) -> list[bool]:
        return [
            word.index > 0 and reading.words[word.index - 1].norm == "to"
            for word in reading.words
            if word.kind == "value" and word.norm not in others and amount_or_time(word)
        ]

    return any(led_by_to(new, old_norms)) and not any(led_by_to(old, new_norms))


def amount_or_time(word: Word) -> bool:
    return _AMOUNT.match(word.norm) is not None or word.norm in _CALENDAR_NORMS
