"""A change told in so many words, read from a new statement beside a stored one: "from A to B",
"replaced A with B", "B instead of A", or an amount or a time set "to" a new one. Such words say
the new statement replaces the stored one, where a reworded statement alone would not."""

from __future__ import annotations

from dataclasses import dataclass

from remembrancer import lexicon as lx
from remembrancer.quantities import amount_or_time
from remembrancer.statements import INFORMATIVE, Reading, Word, tells_a_change


def _value_after(reading: Reading, index: int) -> Word | None:
    """The informative word a preposition at ``index`` leads to, past determiners ("to the 48")."""
    for word in reading.words[index + 1 : index + 3]:
        if word.kind in INFORMATIVE:
            return word
        if word.norm not in lx.DETERMINERS:
            return None
    return None


@dataclass(frozen=True)
class ToldSwap:
    before: Word  # the stored statement's value
    after: Word  # what replaced it
    reported: bool  # the words say it changed ("replaced A with B"), not only that B is chosen


def told_swap(new: Reading, old_norms: set[str]) -> ToldSwap | None:
    """A change told in so many words, A a word of the stored statement and B not: "from A to
    B", "out of A and into B", "replaced A with B", "swapped A for B" (reported when a word tells
    of a change besides), "B instead of A", "B rather than A" (a choice: never reported alone)."""
    words = new.words
    for word in words:
        out_of = word.norm == "of" and word.index > 0 and words[word.index - 1].norm == "out"
        swapping = word.text.lower() in lx.SWAP_VERBS
        if word.norm == "from" or out_of or swapping:
            before = _value_after(new, word.index)
            if before is None or before.norm not in old_norms:
                continue
            leads = ("with", "for") if swapping else ("to", "into")
            lead = next((w for w in words[before.index + 1 : before.index + 4] if w.norm in leads), None)
            after = _value_after(new, lead.index) if lead is not None else None
            if lead is None and word.norm == "from" and new.reports_change:  # "Tomás took over from Priya"
                after = next((w for w in words if _a_name(w) and w.norm not in old_norms), None)
            reported = swapping or new.reports_change
        elif word.text.lower() in ("instead", "rather") and word.index + 2 < len(words):
            before = _value_after(new, word.index + 1)  # "instead of A", "rather than A"
            if before is None or before.norm not in old_norms:
                continue
            chosen = [
                w for w in words[: word.index] if w.kind in ("value", "content") and w.norm not in old_norms
            ]
            after = chosen[-1] if chosen else None
            reported = any(tells_a_change(w) and w.text.lower() not in ("instead", "rather") for w in words)
        else:
            continue
        if after is not None and after.norm not in old_norms:
            return ToldSwap(before, after, reported)
    return None


def _a_name(word: Word) -> bool:
    return word.kind == "value" and word.name and not amount_or_time(word.norm)


def set_to_new_value(new: Reading, old: Reading, new_norms: set[str], old_norms: set[str]) -> bool:
    """The new statement sets an amount or a time to one the stored one lacks ("repartitioned the
    topic to 48", "moved standup to Thursday") where the stored one held its own otherwise ("has
    12 partitions"): a change told. Names are left out: "gave the bike to Anna" is a recipient."""

    def led_by_to(reading: Reading, others: set[str]) -> list[bool]:
        words = reading.words
        return [
            word.index > 1
            and words[word.index - 1].norm == "to"
            and words[word.index - 2].norm not in ("up", "count")  # "up to 10 guests" is a bound
            and words[word.index - 2].kind != "value"  # "5 to 10 minutes" is a range
            for word in words
            if word.kind == "value" and word.norm not in others and amount_or_time(word.norm)
        ]

    return any(led_by_to(new, old_norms)) and not any(led_by_to(old, new_norms))
