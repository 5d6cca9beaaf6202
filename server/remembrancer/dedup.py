"""Deciding what a new fact means relative to similar stored ones. No SQL here.

``Judge`` is the seam: the local ``SimilarityJudge`` (the fallback) and the LLM judge in
``llm_judge.py`` both return a ``Decision``. A judge can only name candidates it was shown,
and no decision deletes anything: update and supersede are reversible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

Action = Literal["add", "duplicate", "update", "supersede"]


class JudgeUnavailable(Exception):
    """The judge could not give a valid decision (outage, timeout, malformed answer)."""


@dataclass(frozen=True)
class Candidate:
    """A stored memory similar to the new content."""

    memory_id: str
    content: str
    similarity: float


@dataclass(frozen=True)
class Decision:
    action: Action
    target_ids: tuple[str, ...] = ()
    merged_text: str | None = None
    similarity: float | None = None
    reason: str = ""
    judge: str = "fallback"
    model: str | None = None


class Judge(Protocol):
    def decide(self, content: str, candidates: Sequence[Candidate]) -> Decision: ...


class SimilarityJudge:
    """The local fallback: a near duplicate is a candidate whose cosine similarity reaches the threshold."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold

    def decide(self, content: str, candidates: Sequence[Candidate]) -> Decision:
        best = max(candidates, key=lambda candidate: candidate.similarity, default=None)
        if best is not None and best.similarity >= self.threshold:
            return Decision(
                action="duplicate",
                target_ids=(best.memory_id,),
                similarity=best.similarity,
                reason=f"cosine similarity {best.similarity:.3f} >= {self.threshold:.3f}",
            )
        return Decision(action="add", reason="no stored memory is close enough to be the same fact")


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
