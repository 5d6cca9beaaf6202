"""Deciding what a new fact means relative to similar stored ones. No SQL here.

``Judge`` is the seam: the local ``SimilarityJudge`` decides today; an LLM judge can take
over the same call and return the same ``Decision``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol


@dataclass(frozen=True)
class Candidate:
    """A stored memory similar to the new content."""

    memory_id: str
    content: str
    similarity: float


@dataclass(frozen=True)
class Decision:
    action: Literal["add", "duplicate"]
    target_id: str | None = None
    similarity: float | None = None
    reason: str = ""


class Judge(Protocol):
    @property
    def name(self) -> str: ...

    def decide(self, content: str, candidates: Sequence[Candidate]) -> Decision: ...


class SimilarityJudge:
    """A near duplicate is a candidate whose cosine similarity reaches the threshold."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold

    @property
    def name(self) -> str:
        return "similarity"

    def decide(self, content: str, candidates: Sequence[Candidate]) -> Decision:
        best = max(candidates, key=lambda candidate: candidate.similarity, default=None)
        if best is not None and best.similarity >= self.threshold:
            return Decision(
                action="duplicate",
                target_id=best.memory_id,
                similarity=best.similarity,
                reason=f"cosine similarity {best.similarity:.3f} >= {self.threshold:.3f}",
            )
        return Decision(action="add", reason="no stored memory is close enough")
