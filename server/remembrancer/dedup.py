"""Deciding what a new fact means relative to similar stored ones. No SQL here.

``Judge`` is the seam: the local ``LocalJudge`` (the fallback) and the LLM judge in
``llm_judge.py`` both return a ``Decision``. A judge can only name candidates it was shown,
and no decision deletes anything: update and supersede are reversible.

The local judge reads each close candidate with ``comparison.compare``: a reworded repeat is
a duplicate; a changed value is stored beside the old memory with a link, so recall puts the
newer first and says what changed; a different fact that looks alike is simply added.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from remembrancer.comparison import Comparison, compare_readings
from remembrancer.errors import JudgeUnavailable
from remembrancer.statements import read

Action = Literal["add", "duplicate", "update", "supersede"]


@dataclass(frozen=True)
class Candidate:
    """A stored memory similar to the new content."""

    memory_id: str
    content: str
    similarity: float


@dataclass(frozen=True)
class Conflict:
    """A stored memory whose value the new fact changes; both stay, the new one ranks first."""

    memory_id: str
    change: str
    guard: tuple[tuple[str, ...], tuple[str, ...]]  # the stored memory's own words (see Comparison)


@dataclass(frozen=True)
class Decision:
    action: Action
    target_ids: tuple[str, ...] = ()
    merged_text: str | None = None
    similarity: float | None = None
    reason: str = ""
    judge: str = "fallback"
    model: str | None = None
    conflicts: tuple[Conflict, ...] = ()  # for "add": the older memories it changes
    shown: tuple[str, ...] = ()  # the candidates an LLM saw: its reason may quote any of them


class Judge(Protocol):
    def decide(self, content: str, candidates: Sequence[Candidate]) -> Decision: ...


#: Below this cosine similarity two statements are not read as the same fact at all.
RELATED_SIMILARITY = 0.33
#: A statement whose every word the stored one holds is a repeat from this similarity on
#: (rare on STS-B: it adds no false merge there; see bench/dedup_threshold.py).
SUBSET_SIMILARITY = 0.6
#: A change read from reworded statements with no word reporting it ("now", "moved") must be
#: this close in meaning to be linked.
SUPPORTED_SIMILARITY = 0.7


class LocalJudge:
    """The judge without an LLM: cosine similarity says which memories are close, and a reading
    of both texts (``comparison.py``) says whether the new one repeats, changes or differs."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold

    def decide(self, content: str, candidates: Sequence[Candidate]) -> Decision:
        reading = read(content)
        related = [
            (candidate, compare_readings(reading, read(candidate.content)))
            for candidate in candidates
            if candidate.similarity >= RELATED_SIMILARITY
        ]
        repeats = [
            c
            for c, comparison in related
            if comparison.verdict == "same"
            and (
                c.similarity >= self.threshold
                or (comparison.adds_nothing and c.similarity >= SUBSET_SIMILARITY)
            )
        ]
        if repeats:
            best = max(repeats, key=lambda candidate: candidate.similarity)
            return Decision(
                action="duplicate",
                target_ids=(best.memory_id,),
                similarity=best.similarity,
                reason=f"same information as memory {best.memory_id} (cosine {best.similarity:.3f})",
            )
        changed = [
            (c, comparison)
            for c, comparison in related
            if comparison.verdict == "changed"
            and (not comparison.needs_support or c.similarity >= SUPPORTED_SIMILARITY)
        ]
        if changed:
            conflicts = tuple(
                Conflict(c.memory_id, comparison.change, (comparison.guard, comparison.pair_guard))
                for c, comparison in changed
            )
            first, comparison = changed[0]
            also = f" (and {len(changed) - 1} more)" if len(changed) > 1 else ""
            return Decision(
                action="add",
                similarity=first.similarity,
                reason=f"{comparison.change} (memory {first.memory_id}{also}); both kept, this one first",
                conflicts=conflicts,
            )
        return Decision(action="add", reason=_why_added(related))


def _why_added(related: Sequence[tuple[Candidate, Comparison]]) -> str:
    if not related:
        return "no stored memory is close enough to be the same fact"
    best, _ = max(related, key=lambda pair: pair[0].similarity)
    return f"closest memory {best.memory_id} (cosine similarity {best.similarity:.3f}) states another fact"


def check_decision(decision: Decision, candidates: Sequence[Candidate]) -> Decision:
    """Reject a decision that names anything outside the candidates or is incomplete."""
    allowed = {candidate.memory_id for candidate in candidates}
    outside = [target for target in decision.target_ids if target not in allowed]
    if outside:
        raise JudgeUnavailable(f"decision names memories outside the candidates: {outside}")
    count = len(decision.target_ids)
    if decision.action == "add" and count:
        raise JudgeUnavailable("an 'add' decision must name no memory")
    if decision.action in ("duplicate", "update") and count != 1:
        raise JudgeUnavailable(f"a '{decision.action}' decision must name exactly one memory, not {count}")
    if decision.action == "supersede" and count == 0:
        raise JudgeUnavailable("a 'supersede' decision must name at least one memory")
    if decision.action == "update" and not (decision.merged_text or "").strip():
        raise JudgeUnavailable("an 'update' decision must give the merged text")
    return decision
