"""The remember pipeline: decide what a new fact means and apply it, never losing the fact.

Identical text is answered by hash; otherwise the most similar live memories in the scope
go to the judge: the LLM when one is configured and a candidate is similar enough to matter,
the local similarity rules otherwise. An LLM that fails or overruns its time budget is
replaced by the local decision, and a memory stored that way is marked for review.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from remembrancer import validation as check
from remembrancer.comparison import compare, values_only_in
from remembrancer.config import Settings
from remembrancer.dedup import RELATED_SIMILARITY, Candidate, Decision, LocalJudge
from remembrancer.errors import InvalidInput, JudgeUnavailable
from remembrancer.llm_judge import LLMJudge
from remembrancer.models import FactOutcome
from remembrancer.storage import Storage
from remembrancer.storage.rows import MemoryRow, NewMemory
from remembrancer.transfer import new_id, to_memory

log = logging.getLogger(__name__)
T = TypeVar("T")
DEDUP_CANDIDATES = 8
#: How often a fact is judged again when close memories keep arriving while it is judged;
#: the last judgement stands.
JUDGEMENTS = 3


class JudgeAgain(Exception):
    """A memory close to the fact was stored (by another caller) after the judge looked."""


@dataclass(frozen=True)
class Shown:
    """What the judge saw: the candidates, and the scope's newest live memory at the time."""

    candidates: list[Candidate]
    newest: int | None


def call_with_deadline(call: Callable[[], T], seconds: float) -> T:
    """Run a blocking call on a daemon thread and give up waiting after ``seconds``."""
    if seconds <= 0:
        raise JudgeUnavailable("no time left in the LLM budget")
    answers: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=1)

    def run() -> None:
        try:
            answers.put((True, call()))
        except BaseException as exc:  # handed to the waiting caller
            answers.put((False, exc))

    threading.Thread(target=run, name="llm-call", daemon=True).start()
    try:
        ok, value = answers.get(timeout=seconds)
    except queue.Empty:
        raise JudgeUnavailable(f"the LLM did not answer within {seconds:.1f} s") from None
    if not ok:
        raise value
    result: T = value
    return result


@dataclass(frozen=True)
class Fact:
    text: str
    tags: list[str]
    metadata: dict[str, Any]
    scope: str
    actor: str
    created_at: str | None = None
    occurred_at: str | None = None


class Curator:
    def __init__(
        self,
        store: Storage,
        embed: Callable[[Sequence[str]], list[bytes]],
        settings: Settings,
        llm: LLMJudge | None,
    ) -> None:
        self.store = store
        self.embed = embed
        self.settings = settings
        self.llm = llm
        self.fallback = LocalJudge(settings.duplicate_threshold)

    # -- deciding -------------------------------------------------------------------------

    def candidates(self, vector: bytes, scope: str, exclude: str | None = None) -> list[Candidate]:
        """The most similar live memories in the scope, best first."""
        neighbours = self.store.nearest(vector, [scope], DEDUP_CANDIDATES + 4)
        rows = self.store.get_by_rowids([rowid for rowid, _ in neighbours])
        found = [
            Candidate(rows[rowid].id, rows[rowid].content, 1.0 - distance)
            for rowid, distance in neighbours
            if rowid in rows and rows[rowid].superseded_by is None and rows[rowid].id != exclude
        ]
        return found[:DEDUP_CANDIDATES]

    def judge(self, text: str, candidates: Sequence[Candidate], deadline: float) -> tuple[Decision, bool]:
        """A decision, and whether it was a fallback for an LLM that failed (so needs review)."""
        best = max((candidate.similarity for candidate in candidates), default=-1.0)
        if self.llm is None or best < self.settings.llm_min_similarity:
            return self.fallback.decide(text, candidates), False
        llm = self.llm
        try:
            decision = call_with_deadline(lambda: llm.decide(text, candidates), deadline - time.monotonic())
            if decision.action == "update":
                check.check_content(decision.merged_text or "", self.settings)
            return self.not_a_duplicate_if_new(decision, text, candidates), False
        except (JudgeUnavailable, InvalidInput) as exc:
            problem = str(exc)
        except Exception as exc:  # an SDK or network surprise must not lose the memory
            log.exception("LLM judge failed unexpectedly")
            problem = f"{type(exc).__name__}: {exc}"
        log.warning("LLM judge unavailable, using the fallback: %s", problem)
        local = self.fallback.decide(text, candidates)
        noted = replace(local, reason=f"LLM unavailable ({problem[:200]}); {local.reason}")
        return noted, local.action == "add"

    def not_a_duplicate_if_new(
        self, decision: Decision, text: str, candidates: Sequence[Candidate]
    ) -> Decision:
        """An LLM's 'duplicate' for a text stating a number, date, name or code the stored one
        lacks is not truthful: judge it locally instead (kept, and linked if it changes a value)."""
        if decision.action != "duplicate":
            return decision
        stored = next(c for c in candidates if c.memory_id == decision.target_ids[0])
        if not values_only_in(text, stored.content):
            return decision
        local = self.fallback.decide(text, candidates)
        if local.action == "duplicate":
            local = Decision("add", reason="it states values the closest memory lacks")
        return Decision(
            action="add",
            similarity=local.similarity,
            reason=f"the LLM called it a duplicate of {stored.memory_id}, but {local.reason}",
            judge="llm",
            model=decision.model,
            conflicts=local.conflicts,
            shown=decision.shown,
        )

    def _known(self, fact: Fact, digest: str) -> MemoryRow | None:
        """The live memory holding this exact text, as its own or as a folded wording; a wording
        folded in by an older, looser rule that the reading now tells apart is judged afresh."""
        known = self.store.find_by_hash(fact.scope, digest)
        if known is None or known.content_hash == digest:
            return known
        return known if compare(fact.text, known.content).verdict == "same" else None

    def remember_fact(self, fact: Fact, deadline: float) -> FactOutcome:
        digest = check.content_hash(fact.text)
        now = check.timestamp(datetime.now(UTC))
        known = self._known(fact, digest)
        if known is not None:  # identical text: answered without paying for an embedding
            decision = Decision("duplicate", (known.id,), similarity=1.0, reason="identical text")
            return self._seen_again(known, fact, decision, now, "hash")
        vector = self.embed([fact.text])[0]
        for judgement in range(1, JUDGEMENTS + 1):
            newest = self.store.newest_live(fact.scope)
            shown = Shown(self.candidates(vector, fact.scope), newest)
            decision, needs_review = self.judge(fact.text, shown.candidates, deadline)
            try:
                return self.apply(
                    decision,
                    fact,
                    digest,
                    vector,
                    now,
                    needs_review,
                    shown if judgement < JUDGEMENTS else None,
                )
            except JudgeAgain:
                log.info("a close memory arrived while %r was judged; judging it again", fact.text[:60])
        raise AssertionError("unreachable: the last judgement is applied unchecked")

    def arrived_since(self, vector: bytes, scope: str, shown: Shown) -> bool:
        """Whether a live memory close enough to be judged against is in the scope now that
        the judge did not see (stored by another caller meanwhile): searched again only when
        something was stored there since. Caller holds a transaction."""
        if self.store.newest_live(scope) == shown.newest:
            return False
        floor = min(RELATED_SIMILARITY, self.settings.llm_min_similarity)
        seen = {candidate.memory_id for candidate in shown.candidates}
        return any(
            candidate.memory_id not in seen and candidate.similarity >= floor
            for candidate in self.candidates(vector, scope)
        )

    # -- applying -------------------------------------------------------------------------

    def apply(
        self,
        decision: Decision,
        fact: Fact,
        digest: str,
        vector: bytes,
        now: str,
        needs_review: bool,
        shown: Shown | None = None,
    ) -> FactOutcome:
        """Store what the judge decided; ``shown`` (what it saw) makes a new memory wait for a
        fresh judgement (JudgeAgain) if a close one arrived meanwhile."""
        live = self.live_targets(decision)
        if live is None:  # storing the fact is always safe
            decision, live = Decision("add", reason="the memory the decision named changed meanwhile"), []
        how = "llm" if decision.judge == "llm" else "similarity"
        if decision.action == "duplicate":
            return self._seen_again(live[0], fact, decision, now, how)
        if decision.action == "update":
            return self._update(live[0], fact, decision, now)
        if decision.action == "add":
            live = list(
                self.store.get_by_ids([conflict.memory_id for conflict in decision.conflicts]).values()
            )
        return self._store_new(decision, fact, digest, vector, now, needs_review, live, shown)

    def live_targets(self, decision: Decision) -> list[MemoryRow] | None:
        """The memories the decision names, when every one is still live; None when any was
        forgotten or superseded since the judge saw it."""
        targets = self.store.get_by_ids(list(decision.target_ids))
        live = [targets[i] for i in decision.target_ids if i in targets and targets[i].superseded_by is None]
        return live if len(live) == len(decision.target_ids) else None

    def _details(self, judged: Decision, **extra: Any) -> dict[str, Any]:
        # "shown": forgetting any memory the LLM saw takes its reason out of this event too.
        shown = {"shown": list(judged.shown)} if judged.shown else {}
        return {"judge": judged.judge, "model": judged.model, "reason": judged.reason, **shown, **extra}

    def _outcome(self, status: str, row_id: str, decision: Decision, **fields: Any) -> FactOutcome:
        row = self.store.get_by_ids([row_id])[row_id]
        return FactOutcome(
            status=status,  # type: ignore[arg-type]
            memory=to_memory(row),
            similarity=None if decision.similarity is None else round(decision.similarity, 4),
            judge="llm" if decision.judge == "llm" else "fallback",
            model=decision.model,
            reason=decision.reason,
            needs_review=row.needs_review,
            **fields,
        )

    def _seen_again(self, row: MemoryRow, fact: Fact, decision: Decision, now: str, how: str) -> FactOutcome:
        with self.store.transaction():
            live = self.store.is_live(row.rowid)
            if live:
                decision = self._restate(row, decision, now)
                digest = check.content_hash(fact.text)
                wording = None if digest == row.content_hash else (fact.text, digest)
                self.store.record_sighting(
                    row.rowid, row.id, now, fact.metadata, fact.actor, self._details(decision), wording
                )
        if not live:  # forgotten or superseded by another caller meanwhile: store the fact itself
            vector = self.embed([fact.text])[0]
            added = Decision("add", reason="the memory holding this fact changed meanwhile")
            return self._store_new(added, fact, check.content_hash(fact.text), vector, now, False, [])
        return self._outcome("duplicate", row.id, decision, duplicate_of=row.id, matched_by=how)

    def _restate(self, row: MemoryRow, decision: Decision, now: str) -> Decision:
        """A fact stated again after a newer memory changed its value is the current value again:
        the links turn round, so recall puts it first. Caller holds a transaction."""
        newer = self.store.newer_links(row.rowid)
        if not newer:
            return decision
        others = self.store.get_by_rowids([link.newer for link in newer])
        links = []
        for other in others.values():
            comparison = compare(row.content, other.content)
            links.append(
                (other.rowid, comparison.change or "stated again", (comparison.guard, comparison.pair_guard))
            )
        self.store.restate(row, links, now)
        names = ", ".join(sorted(other.id for other in others.values()))
        return replace(
            decision, reason=f"{decision.reason}; stated again, so it is current again (over {names})"
        )

    def _update(self, row: MemoryRow, fact: Fact, decision: Decision, now: str) -> FactOutcome:
        merged = check.check_content(decision.merged_text or "", self.settings)
        vector = self.embed([merged])[0]
        with self.store.transaction():
            current = self.store.get_by_ids([row.id]).get(row.id)
            if current is not None and current.superseded_by is None:
                details = self._details(
                    decision, previous=current.content, new=fact.text, metadata=fact.metadata
                )
                change = ("updated", now, fact.actor, details)
                self.store.rewrite(current, merged, check.content_hash(merged), vector, change)
        if current is None or current.superseded_by is not None:
            added = Decision("add", reason="the memory to update changed meanwhile")
            own = self.embed([fact.text])[0]
            return self._store_new(added, fact, check.content_hash(fact.text), own, now, False, [])
        return self._outcome("updated", row.id, decision, matched_by="llm")

    def _store_new(
        self,
        decision: Decision,
        fact: Fact,
        digest: str,
        vector: bytes,
        now: str,
        needs_review: bool,
        replaced: list[MemoryRow],
        shown: Shown | None = None,
    ) -> FactOutcome:
        created = fact.created_at or now
        record = NewMemory(
            new_id(),
            fact.text,
            digest,
            fact.scope,
            fact.tags,
            fact.metadata,
            created,
            created,
            needs_review=needs_review,
            occurred_at=fact.occurred_at,
        )
        superseding = decision.action == "supersede"
        changes = {conflict.memory_id: conflict for conflict in decision.conflicts}
        with self.store.transaction():
            raced = self._known(fact, digest)
            if raced is None and shown is not None and self.arrived_since(vector, fact.scope, shown):
                raise JudgeAgain
            replaced = [row for row in replaced if self.store.is_live(row.rowid)]  # as of now
            superseding = superseding and bool(replaced)
            linked = [row for row in replaced if row.id in changes] if not superseding else []
            if raced is None:
                extra: dict[str, Any] = {"supersedes": [row.id for row in replaced]} if superseding else {}
                if linked:
                    extra["replaces"] = [row.id for row in linked]
                links = [(row.rowid, changes[row.id].change, changes[row.id].guard) for row in linked]
                details = self._details(decision, **extra)
                inserted = self.store.insert(record, vector, fact.actor, details=details, links=links)
                if superseding:
                    details = self._details(decision, by=record.id, decision=inserted.event)
                    self.store.supersede(replaced, record.id, now, fact.actor, details)
        if raced is not None:  # another writer stored the same text while we were judging
            return self._seen_again(raced, fact, Decision("duplicate", reason="identical text"), now, "hash")
        if superseding:
            return self._outcome("superseded", record.id, decision, superseded=[row.id for row in replaced])
        return self._outcome("added", record.id, decision, replaces=[row.id for row in linked])
