"""Concurrency stress: several processes remember, recall and forget on ONE SQLite file at once.

Each worker is a separate interpreter (multiprocessing, spawn) that opens its own MemoryService on
the shared file, the way several `remembrancer serve` processes would. All workers open the file
at the same moment (so a fresh file sees concurrent migrations and model binding), warm their
embedder, then run a random mix of remember (50%) / recall (30%) / forget (20%) until they have
done --ops operations or --seconds have passed. Texts are unique and far apart in meaning, so
deduplication folds none. Recalls search by the exact text of one of the worker's own memories,
or of another worker's newest one (just written by another process), and check that it comes
back, found by its vector too. Forgets remove one of the worker's own memories (or, with
--shared-forget, one another worker stored: then "not found" is a fair outcome). Every operation,
its outcome and the ids it added or forgot go to a per-worker JSON Lines journal, flushed at
once, so a worker that dies leaves its record.

When all have stopped, each worker checks that its nearest-neighbour search sees exactly the
file's vectors. Then the file is checked directly (sqlean with sqlite-vec loaded, no
MemoryService): exactly the memories acknowledged as added and not forgotten exist; each has one
vector, which is the embedding of its text, and one full-text row with its text, tags and the
right context; history holds every add and forget; SQLite's and FTS5's integrity checks pass.
Prints Markdown tables; exits 1 on any error or inconsistency.

    python bench/stress.py                    # 4 processes x 500 operations, the real model
    python bench/stress.py --fake-embedder    # a hashing embedder: the stress is all SQLite
    python bench/stress.py --procs 8 --ops 2000 --seconds 120 --db /tmp/stress.db --shared-forget 0.3
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import math
import multiprocessing
import multiprocessing.synchronize
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from array import array
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import sqlean
import sqlite_vec

import remembrancer
from remembrancer.config import Settings
from remembrancer.embeddings import Embedder
from remembrancer.errors import NotFound
from remembrancer.service import MemoryService

LOCKED = "database is locked"
#: SQLite messages that mean a writer or reader gave up waiting for another connection.
LOCK_MESSAGES = (LOCKED, "database table is locked", "database is busy", "SQLITE_BUSY")
#: Longest wait for all workers to import and open the file, and for stragglers after --seconds.
STARTUP_TIMEOUT = 180.0
FINISH_GRACE = 90.0
SCOPE = "stress"
SUMMARY_COLUMNS = (
    "processes",
    "operations",
    "errors",
    "'database is locked'",
    "lost writes",
    "missing / orphan vectors",
    "missing / orphan FTS rows",
    "other inconsistencies",
    "throughput",
    "wall time",
)


# -- the fake embedder and the texts ---------------------------------------------------------

_WORD = re.compile(r"\w+")


class HashEmbedder:
    """Deterministic bag of hashed words, unit length: the same words give the same vector."""

    def __init__(self, dim: int = 128) -> None:
        self._dim = dim

    @property
    def name(self) -> str:
        return f"stress-hash-{self._dim}"

    @property
    def dim(self) -> int:
        return self._dim

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = []
        for text in texts:
            vector = [0.0] * self._dim
            for word in _WORD.findall(text.casefold()):
                digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
                slot = int.from_bytes(digest[:4], "big") % self._dim
                vector[slot] += 1.0 if digest[4] & 1 else -1.0
            norm = math.sqrt(math.fsum(v * v for v in vector))
            if norm == 0.0:
                vector[0], norm = 1.0, 1.0
            vectors.append([v / norm for v in vector])
        return vectors


def make_embedder(fake: bool) -> Embedder:
    if fake:
        return HashEmbedder()
    from remembrancer.embeddings import FastEmbedder

    return FastEmbedder()


_FALLBACK_WORDS = [
    f"{a}{b}" for a in ("bar", "cor", "del", "fen", "gal", "hul") for b in ("ith", "ona", "ux")
]


def _load_words() -> list[str]:
    """Whole words of the bundled model's vocabulary (about 20,000): random picks rarely overlap,
    so no two stress texts come near the duplicate threshold (measured max cosine about 0.6)."""
    path = Path(remembrancer.__file__).parent / "model" / "tokenizer.json"
    try:
        vocab = json.loads(path.read_text(encoding="utf-8"))["model"]["vocab"]
    except (OSError, ValueError, KeyError):
        return _FALLBACK_WORDS
    words = sorted(word for word in vocab if re.fullmatch(r"[a-z]{4,12}", word))
    return words if len(words) > 1000 else _FALLBACK_WORDS


WORDS = _load_words()


def make_content(rng: random.Random, worker: int, op: int, run: str) -> str:
    """A unique text (the note id), far from every other one in meaning."""
    words = rng.sample(WORDS, 8)
    return (
        f"{words[0].capitalize()} {words[1]} {words[2]} {words[3]}, {words[4]} {words[5]} {words[6]}"
        f" {words[7]} (note {run}-{worker}-{op})."
    )


# -- one worker process ----------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerSpec:
    index: int
    db: str
    ops: int
    seconds: float
    fake_embedder: bool
    seed: int
    journal: str
    run: str
    #: Probabilities of remember and recall; the rest is forget.
    p_remember: float = 0.5
    p_recall: float = 0.3
    #: Share of forgets aimed at a memory another worker stored (seen in a recall).
    shared_forget: float = 0.0


def classify(exc: BaseException) -> str:
    """A short, stable key for an error: its type, and 'database is locked' when it is one."""
    text = str(exc)
    for message in LOCK_MESSAGES:
        if message.lower() in text.lower():
            return f"{type(exc).__name__}: {message}"
    first = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {first[:90]}"


class Journal:
    """JSON Lines, one flushed line per event, so a crash keeps everything before it."""

    def __init__(self, path: str) -> None:
        self._out: TextIO = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def write(self, kind: str, **fields: Any) -> None:
        self._out.write(json.dumps({"kind": kind, "t": time.time(), **fields}) + "\n")
        self._out.flush()

    def close(self) -> None:
        self._out.close()


def _wait(
    barrier: multiprocessing.synchronize.Barrier | None, journal: Journal, what: str, timeout: float
) -> None:
    if barrier is None:
        return
    try:
        barrier.wait(timeout=timeout)
    except threading.BrokenBarrierError:
        journal.write("note", message=f"start barrier ({what}) broken: another worker did not arrive")


def run_worker(spec: WorkerSpec, barrier: multiprocessing.synchronize.Barrier | None = None) -> None:
    """The body of one worker process. Never raises: everything goes to the journal."""
    journal = Journal(spec.journal)
    journal.write("start", worker=spec.index, pid=os.getpid())
    service: MemoryService | None = None
    _wait(barrier, journal, "open", STARTUP_TIMEOUT)
    try:
        settings = Settings(db_path=Path(spec.db), default_scope=SCOPE, review_interval=0)
        service = MemoryService.open(settings, make_embedder(spec.fake_embedder))
        service.embedder.embed(["warm up the embedder before the clock starts"])
        journal.write("opened", worker=spec.index)
    except Exception as exc:
        journal.write("op", worker=spec.index, op="open", ok=False, error=classify(exc), ms=0.0)
    _wait(barrier, journal, "go", STARTUP_TIMEOUT)
    reason = "could not open the store"
    try:
        if service is not None:
            journal.write("go", worker=spec.index)
            reason = _operate(spec, service, journal)
        journal.write("done", worker=spec.index, reason=reason)
        # Once every worker has stopped writing: is this process's view of the vectors the file's?
        _wait(barrier, journal, "finish", spec.seconds + FINISH_GRACE)
        if service is not None:
            try:
                journal.write("index", worker=spec.index, **vector_view_drift(service, Path(spec.db)))
            except Exception as exc:
                journal.write(
                    "op", worker=spec.index, op="index check", ok=False, error=classify(exc), ms=0.0
                )
    finally:
        if service is not None:
            service.close()
        journal.close()


def vector_view_drift(service: MemoryService, db: Path, scope: str = SCOPE) -> dict[str, Any]:
    """Compare what this service's nearest-neighbour search sees with the file's vectors.

    A process may keep its own copy of the vectors (kept in step with other writers); through
    ``Store.nearest`` it must list exactly the file's vectors, each its own nearest neighbour.
    """
    conn = open_raw(db)
    try:
        rows = {
            int(rowid): bytes(blob)
            for rowid, blob in conn.execute(
                "select rowid, embedding from memory_vectors where scope = ?", (scope,)
            )
        }
    finally:
        conn.close()
    if not rows:
        return {"vectors": 0, "missing_rowids": [], "missing": 0, "extra": 0, "wrong": 0}
    probe = next(iter(rows.values()))
    listed = {rowid for rowid, _ in service.store.nearest(probe, [scope], len(rows) + 50)}
    wrong = 0
    for rowid, blob in rows.items():
        if rowid in listed:
            best = service.store.nearest(blob, [scope], 1)
            wrong += not best or best[0][0] != rowid or best[0][1] > 1e-3
    return {
        "vectors": len(rows),
        "missing_rowids": sorted(rows.keys() - listed)[:10],
        "missing": len(rows.keys() - listed),
        "extra": len(listed - rows.keys()),
        "wrong": wrong,
    }


def _recall_target(
    rng: random.Random, service: MemoryService, live: dict[str, str], tag: str
) -> tuple[str | None, str, list[str] | None]:
    """(memory to find, query, tag filter): the exact text of one of this worker's memories, of
    another worker's newest (what another process just wrote), or a few random words."""
    pick, index, filtered = rng.random(), rng.randrange(12), rng.random() < 0.3  # always drawn
    if pick < 0.5 and live:
        target = list(live)[index * 7919 % len(live)]
        return target, live[target], [tag] if filtered else None
    if pick < 0.85:
        others = [memory for memory in service.list_memories(limit=12) if tag not in memory.tags]
        if others:
            memory = others[index % len(others)]
            return memory.id, memory.content, None
    return None, " ".join(rng.sample(WORDS, 3)), None


def _operate(spec: WorkerSpec, service: MemoryService, journal: Journal) -> str:
    rng = random.Random(spec.seed * 7919 + spec.index)
    live: dict[str, str] = {}  # id -> content, of memories this worker stored and not forgot
    seen: dict[str, None] = {}  # ids other workers stored, from recall hits (for shared forgets)
    tag = f"worker-{spec.index}"
    deadline = time.monotonic() + spec.seconds
    for op in range(spec.ops):
        if time.monotonic() >= deadline:
            return f"--seconds ({spec.seconds:g}) reached after {op} operations"
        roll = rng.random()
        if not live or roll < spec.p_remember:
            kind = "remember"
        elif roll < spec.p_remember + spec.p_recall:
            kind = "recall"
        else:
            kind = "forget"
        record: dict[str, Any] = {"worker": spec.index, "n": op, "op": kind}
        started = time.perf_counter()
        try:
            if kind == "remember":
                content = make_content(rng, spec.index, op, spec.run)
                record["content"] = content
                result = service.remember(content, [tag], {"worker": spec.index, "op": op}, actor=tag)
                assert result.memory is not None
                record.update(status=result.status, id=result.memory.id)
                if result.status == "added":
                    live[result.memory.id] = content
            elif kind == "recall":
                target, query, tags = _recall_target(rng, service, live, tag)
                hits = service.recall(query, limit=5, tags=tags).hits
                ids = [hit.id for hit in hits]
                record.update(target=target, hits=len(ids), filtered=tags is not None)
                if target is not None:
                    hit = next((hit for hit in hits if hit.id == target), None)
                    record.update(found=hit is not None, similarity=None if hit is None else hit.similarity)
                    if hit is None or hit.similarity is None or hit.similarity < 0.99:
                        # A miss only counts if the memory still exists (nobody forgot it meanwhile).
                        record["exists_after"] = target in service.store.get_by_ids([target])
                seen.update((i, None) for i in ids if i not in live)
                for stale in list(seen)[:-50]:
                    del seen[stale]
            else:
                shared = rng.random() < spec.shared_forget  # drawn always: the sequence stays seeded
                if shared and seen:
                    victim = list(seen)[rng.randrange(len(seen))]
                    del seen[victim]
                    record["shared"] = True
                else:
                    victim = rng.choice(list(live))
                record["ids"] = [victim]
                service.forget([victim], actor=tag)
                live.pop(victim, None)
            record["ok"] = True
        except NotFound as exc:
            record.update(ok=False, error=classify(exc), not_found=True)
            for victim in record.get("ids", []):
                live.pop(victim, None)
        except Exception as exc:
            record.update(ok=False, error=classify(exc))
            for victim in record.get("ids", []):  # its fate is unknown: leave it alone from now on
                live.pop(victim, None)
        record["ms"] = (time.perf_counter() - started) * 1000.0
        journal.write("op", **record)
    return "all operations done"


# -- verification ----------------------------------------------------------------------------


def open_raw(path: Path) -> Any:
    """The file as SQLite sees it: sqlean with sqlite-vec loaded, no migrations, no service."""
    conn = sqlean.connect(str(path), isolation_level=None, timeout=30)
    conn.enable_load_extension(True)
    sqlite_vec.load(conn)
    conn.enable_load_extension(False)
    conn.execute("pragma busy_timeout = 30000")
    return conn


def existing_ids(path: Path) -> set[str]:
    if not path.exists():
        return set()
    conn = open_raw(path)
    try:
        tables = {row[0] for row in conn.execute("select name from sqlite_master where type = 'table'")}
        if "memories" not in tables:
            return set()
        return {str(row[0]) for row in conn.execute("select id from memories")}
    finally:
        conn.close()


@dataclass
class Check:
    """What the file holds against what the workers were told."""

    memories: int = 0
    expected: int = 0
    lost_writes: list[str] = field(default_factory=list)
    not_forgotten: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    stored_despite_error: int = 0
    uncertain: int = 0
    missing_vectors: int = 0
    orphan_vectors: int = 0
    wrong_vectors: int = 0
    missing_fts: int = 0
    orphan_fts: int = 0
    wrong_fts_text: int = 0
    wrong_fts_context: int = 0
    dangling_context: int = 0
    missing_history: int = 0
    integrity: str = "ok"
    fts_integrity: str = "ok"

    @property
    def problems(self) -> int:
        return (
            len(self.lost_writes)
            + len(self.not_forgotten)
            + len(self.unexpected)
            + self.missing_vectors
            + self.orphan_vectors
            + self.wrong_vectors
            + self.missing_fts
            + self.orphan_fts
            + self.wrong_fts_text
            + self.wrong_fts_context
            + self.dangling_context
            + self.missing_history
            + (self.integrity != "ok")
            + (self.fts_integrity != "ok")
        )


def _vectors_match(conn: Any, embedder: Embedder, rows: dict[int, str]) -> int:
    """How many stored vectors are not the embedding of their memory's text."""
    stored = {
        int(rowid): bytes(blob) for rowid, blob in conn.execute("select rowid, embedding from memory_vectors")
    }
    wrong = 0
    items = [(rowid, content) for rowid, content in rows.items() if rowid in stored]
    for start in range(0, len(items), 64):
        batch = items[start : start + 64]
        for (rowid, _), fresh in zip(batch, embedder.embed([content for _, content in batch]), strict=True):
            kept = array("f")
            kept.frombytes(stored[rowid])
            if math.fsum(a * b for a, b in zip(kept, fresh, strict=True)) < 0.99:
                wrong += 1
    return wrong


def verify(path: Path, baseline: set[str], ops: Sequence[dict[str, Any]], embedder: Embedder) -> Check:
    added = {op["id"] for op in ops if op["op"] == "remember" and op.get("ok") and op["status"] == "added"}
    forgotten = {i for op in ops if op["op"] == "forget" and op.get("ok") for i in op["ids"]}
    uncertain = {
        i
        for op in ops
        if op["op"] == "forget" and not op.get("ok") and not op.get("not_found")
        for i in op["ids"]
    }
    failed_contents = {op["content"] for op in ops if op["op"] == "remember" and not op.get("ok")}
    expected = (baseline | added) - forgotten - uncertain

    check = Check(expected=len(expected), uncertain=len(uncertain))
    conn = open_raw(path)
    try:
        rows = {
            str(memory_id): (int(rowid), str(content), json.loads(tags), context)
            for rowid, memory_id, content, tags, context in conn.execute(
                "select rowid, id, content, tags, context_rowid from memories"
            )
        }
        present = set(rows) - uncertain
        check.memories = len(rows)
        check.lost_writes = sorted(expected - present)
        check.not_forgotten = sorted(present & forgotten)
        strangers = present - expected - forgotten
        check.stored_despite_error = sum(1 for i in strangers if rows[i][1] in failed_contents)
        check.unexpected = sorted(i for i in strangers if rows[i][1] not in failed_contents)

        by_rowid = {
            rowid: (memory_id, content, tags, context)
            for memory_id, (rowid, content, tags, context) in rows.items()
        }
        vector_rowids = {int(row[0]) for row in conn.execute("select rowid from memory_vectors")}
        check.missing_vectors = len(by_rowid.keys() - vector_rowids)
        check.orphan_vectors = len(vector_rowids - by_rowid.keys())
        check.wrong_vectors = _vectors_match(conn, embedder, {r: v[1] for r, v in by_rowid.items()})

        fts = {
            int(rowid): (str(content), str(tags), str(context))
            for rowid, content, tags, context in conn.execute(
                "select rowid, content, tags, context from memory_fts"
            )
        }
        check.missing_fts = len(by_rowid.keys() - fts.keys())
        check.orphan_fts = len(fts.keys() - by_rowid.keys())
        for rowid, (_, content, tags, context_rowid) in by_rowid.items():
            if rowid not in fts:
                continue
            text, indexed_tags, context = fts[rowid]
            if text != content or indexed_tags != " ".join(tags):
                check.wrong_fts_text += 1
            if context_rowid is not None and context_rowid not in by_rowid:
                check.dangling_context += 1
            wanted = by_rowid[context_rowid][1] if context_rowid in by_rowid else ""
            if context != wanted:
                check.wrong_fts_context += 1

        events = Counter(
            (str(memory_id), str(event))
            for memory_id, event in conn.execute(
                "select memory_id, event from history where event in ('added', 'forgotten')"
            )
        )
        check.missing_history = sum(1 for i in added if not events[(i, "added")]) + sum(
            1 for i in forgotten if not events[(i, "forgotten")]
        )
        check.integrity = "; ".join(str(row[0]) for row in conn.execute("pragma integrity_check"))
        try:
            conn.execute("insert into memory_fts(memory_fts) values ('integrity-check')")
        except sqlean.DatabaseError as exc:
            check.fts_integrity = str(exc)
    finally:
        conn.close()
    return check


# -- the run and its report ------------------------------------------------------------------


@dataclass(frozen=True)
class StressConfig:
    procs: int = 4
    ops: int = 500
    seconds: float = 300.0
    db: Path | None = None
    fake_embedder: bool = False
    seed: int = 1
    shared_forget: float = 0.0
    keep: bool = False


@dataclass
class StressReport:
    config: StressConfig
    db: Path
    embedder: str
    ops: list[dict[str, Any]]
    notes: list[str]
    check: Check
    wall_s: float
    worker_failures: list[str]
    views: list[dict[str, Any]] = field(default_factory=list)

    def count(self, kind: str | None = None) -> int:
        kinds = ("remember", "recall", "forget") if kind is None else (kind,)
        return sum(1 for op in self.ops if op["op"] in kinds)

    @functools.cached_property
    def forget_started(self) -> dict[str, float]:
        """Each forgotten id: when the first successful forget of it started (journal clock)."""
        started: dict[str, float] = {}
        for op in self.ops:
            if op["op"] == "forget" and op.get("ok"):
                for memory_id in op["ids"]:
                    at = float(op["t"]) - float(op["ms"]) / 1000.0
                    started[memory_id] = min(at, started.get(memory_id, at))
        return started

    def _raced(self, op: dict[str, Any]) -> bool:
        """A forget that said 'not found' because a successful forget of its ids got there first
        (started before this one ended); one that said so of a memory forgotten only later is wrong."""
        if not op.get("not_found"):
            return False
        return all(self.forget_started.get(i, math.inf) < float(op["t"]) for i in op["ids"])

    @property
    def expected_not_found(self) -> int:
        """Forgets that found their memory already forgotten by another worker: a fair outcome."""
        return sum(1 for op in self.ops if self._raced(op))

    @property
    def errors(self) -> Counter[str]:
        found = Counter(
            f"{op['op']}: {op['error']}" for op in self.ops if not op.get("ok") and not self._raced(op)
        )
        for failure in self.worker_failures:
            found[failure] += 1
        return found

    @property
    def locked(self) -> int:
        return sum(n for key, n in self.errors.items() if any(m in key for m in LOCK_MESSAGES))

    def _targets(self) -> str:
        recalls = [op for op in self.ops if op["op"] == "recall" and op.get("ok") and op["target"]]
        own = sum(1 for op in recalls if op["target"] in self.added_by_worker.get(op["worker"], set()))
        return f"{own} / {len(recalls) - own}"

    @functools.cached_property
    def added_by_worker(self) -> dict[int, set[str]]:
        added: dict[int, set[str]] = {}
        for op in self.ops:
            if op["op"] == "remember" and op.get("ok"):
                added.setdefault(op["worker"], set()).add(op["id"])
        return added

    def _misses(self, returned: bool) -> int:
        return sum(
            1
            for op in self.ops
            if op["op"] == "recall" and op.get("ok") and op.get("exists_after") and op["found"] is returned
        )

    @property
    def recall_misses(self) -> int:
        """Recalls by the exact text of a memory that existed throughout, that did not return it."""
        return self._misses(returned=False)

    @property
    def vector_misses(self) -> int:
        """Such recalls that returned it, but not from the vector side (its vector was not seen)."""
        return self._misses(returned=True)

    @property
    def view_drift(self) -> tuple[int, int, int]:
        """Summed over workers, after all writes: vectors (missing, extra, wrong) in their search."""
        return (
            sum(int(view["missing"]) for view in self.views),
            sum(int(view["extra"]) for view in self.views),
            sum(int(view["wrong"]) for view in self.views),
        )

    @property
    def folded(self) -> int:
        return sum(
            1 for op in self.ops if op["op"] == "remember" and op.get("ok") and op["status"] != "added"
        )

    @property
    def other_problems(self) -> int:
        """Every inconsistency not in the table's own columns (see the checks table)."""
        check = self.check
        shown = len(check.lost_writes) + check.missing_vectors + check.orphan_vectors
        shown += check.missing_fts + check.orphan_fts
        return check.problems - shown + self.recall_problems

    @property
    def recall_problems(self) -> int:
        return self.recall_misses + self.vector_misses + sum(self.view_drift) + self.folded

    @property
    def ok(self) -> bool:
        return not self.errors and self.check.problems == 0 and self.recall_problems == 0

    def _row(self, *cells: object) -> str:
        return "| " + " | ".join(str(cell).replace("|", "/") for cell in cells) + " |"

    def summary_row(self) -> str:
        cfg, check = self.config, self.check
        done = self.count()
        kinds = ", ".join(f"{self.count(kind)} {kind}" for kind in ("remember", "recall", "forget"))
        return self._row(
            cfg.procs,
            f"{done} of {cfg.procs * cfg.ops} ({kinds})",
            sum(self.errors.values()),
            self.locked,
            len(check.lost_writes),
            f"{check.missing_vectors} / {check.orphan_vectors}",
            f"{check.missing_fts} / {check.orphan_fts}",
            self.other_problems,
            f"{done / self.wall_s if self.wall_s else 0.0:.1f} ops/s",
            f"{self.wall_s:.1f} s",
        )

    def table(self) -> str:
        cfg, check = self.config, self.check
        errors = self.errors
        checks = [
            (
                "memories in the file / expected (added minus forgotten)",
                f"{check.memories} / {check.expected}",
            ),
            ("lost writes (acknowledged, never forgotten, absent)", len(check.lost_writes)),
            ("forgotten but still present", len(check.not_forgotten)),
            ("present but never acknowledged", len(check.unexpected)),
            ("stored although the call failed", check.stored_despite_error),
            ("forgets with unknown outcome (the call failed)", check.uncertain),
            (
                "vectors: missing / orphan / not the embedding of the text",
                f"{check.missing_vectors} / {check.orphan_vectors} / {check.wrong_vectors}",
            ),
            (
                "FTS rows: missing / orphan / wrong text or tags / wrong context",
                f"{check.missing_fts} / {check.orphan_fts} / {check.wrong_fts_text}"
                f" / {check.wrong_fts_context}",
            ),
            ("context links to a memory that is gone", check.dangling_context),
            ("add or forget missing from history", check.missing_history),
            ("recalls by exact text: own memory / another worker's", self._targets()),
            ("... that missed a memory which existed throughout", self.recall_misses),
            ("... that found it, but not on the vector side", self.vector_misses),
            (
                "each worker's nearest-neighbour view after the run: vectors missing / extra / wrong",
                " / ".join(str(n) for n in self.view_drift),
            ),
            ("remembers folded into another memory (dedup)", self.folded),
            ("forgets told 'not found' fairly (another forget of it came first)", self.expected_not_found),
            ("pragma integrity_check / FTS5 integrity-check", f"{check.integrity} / {check.fts_integrity}"),
        ]
        lines = [
            f"## Stress: {cfg.procs} processes x {cfg.ops} operations on one SQLite file",
            "",
            f"Embedder `{self.embedder}`, SQLite {sqlean.sqlite_version}, seed {cfg.seed}, "
            f"shared forgets {cfg.shared_forget:g}, file `{self.db}`.",
            "",
            self._row(*SUMMARY_COLUMNS),
            self._row(*["---"] * len(SUMMARY_COLUMNS)),
            self.summary_row(),
            "",
            "| check | result |",
            "|---|---|",
            *(self._row(name, value) for name, value in checks),
            "",
            "| operation | count | p50 ms | p95 ms | max ms |",
            "|---|---|---|---|---|",
        ]
        for kind in ("remember", "recall", "forget"):
            times = sorted(float(op["ms"]) for op in self.ops if op["op"] == kind)
            if times:
                p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
                median = statistics.median(times)
                lines.append(self._row(kind, len(times), f"{median:.1f}", f"{p95:.1f}", f"{times[-1]:.1f}"))
        if errors:
            lines += ["", "| error | count |", "|---|---|"]
            lines += [self._row(key, n) for key, n in errors.most_common()]
        if self.notes:
            lines += ["", *(f"- {note}" for note in self.notes)]
        lines += ["", f"**{'PASS' if self.ok else 'FAIL'}**"]
        return "\n".join(lines)


def _read_journals(paths: Sequence[Path]) -> Iterator[dict[str, Any]]:
    for path in paths:
        if not path.exists():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:  # a worker killed mid-line
                    continue


def run_stress(config: StressConfig) -> StressReport:
    work = Path(tempfile.mkdtemp(prefix="remembrancer-stress-"))
    db = (config.db or work / "memory.db").expanduser().resolve()
    baseline = existing_ids(db)
    run = f"{os.getpid():x}{int(time.time()) % 100000:x}"
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(config.procs)
    journals = [work / f"worker-{index}.jsonl" for index in range(config.procs)]
    specs = [
        WorkerSpec(
            index=index,
            db=str(db),
            ops=config.ops,
            seconds=config.seconds,
            fake_embedder=config.fake_embedder,
            seed=config.seed,
            journal=str(journals[index]),
            run=run,
            shared_forget=config.shared_forget,
        )
        for index in range(config.procs)
    ]
    workers = [
        context.Process(target=run_worker, args=(spec, barrier), name=f"stress-worker-{spec.index}")
        for spec in specs
    ]
    for worker in workers:
        worker.start()
    failures: list[str] = []
    give_up = time.monotonic() + 2 * STARTUP_TIMEOUT + config.seconds + FINISH_GRACE
    for worker in workers:
        worker.join(timeout=max(0.0, give_up - time.monotonic()))
        if worker.is_alive():
            failures.append(f"{worker.name}: still running after the time bound; terminated")
            worker.terminate()
            worker.join(timeout=10)
            if worker.is_alive():
                worker.kill()
                worker.join(timeout=10)
        elif worker.exitcode != 0:
            failures.append(f"{worker.name}: exited with {worker.exitcode}")

    events = list(_read_journals(journals))
    ops = [event for event in events if event["kind"] == "op"]
    notes = [
        f"worker {e['worker']}: {e['reason']}"
        for e in events
        if e["kind"] == "done" and e["reason"] != "all operations done"
    ]
    notes += [str(e["message"]) for e in events if e["kind"] == "note"]
    for index in range(config.procs):
        if not any(e["kind"] == "done" and e["worker"] == index for e in events):
            failures.append(f"stress-worker-{index}: did not finish its journal")
    starts = [float(e["t"]) for e in events if e["kind"] == "go"]
    ends = [float(e["t"]) for e in events if e["kind"] == "done"]
    wall = max(ends) - min(starts) if starts and ends else 0.0

    embedder = make_embedder(config.fake_embedder)
    check = verify(db, baseline, ops, embedder) if db.exists() else Check(integrity="no database file")
    views = [event for event in events if event["kind"] == "index"]
    report = StressReport(config, db, embedder.name, ops, notes, check, wall, failures, views)
    if not config.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        report.notes.append(f"journals kept in {work}")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--procs", type=int, default=4, help="worker processes (default 4)")
    parser.add_argument("--ops", type=int, default=500, help="operations per worker (default 500)")
    parser.add_argument(
        "--seconds", type=float, default=300.0, help="stop each worker after this long (default 300)"
    )
    parser.add_argument("--db", type=Path, help="database file (default: a new file in a temporary folder)")
    parser.add_argument(
        "--fake-embedder", action="store_true", help="a deterministic hashing embedder instead of the model"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--shared-forget",
        type=float,
        default=0.0,
        help="share of forgets aimed at other workers' memories seen in recall (default 0)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the journals (and a temporary database)")
    args = parser.parse_args(argv)
    if args.procs < 1 or args.ops < 1 or args.seconds <= 0 or not 0.0 <= args.shared_forget <= 1.0:
        parser.error("--procs and --ops must be at least 1, --seconds positive, --shared-forget in [0, 1]")
    config = StressConfig(
        procs=args.procs,
        ops=args.ops,
        seconds=args.seconds,
        db=args.db,
        fake_embedder=args.fake_embedder,
        seed=args.seed,
        shared_forget=args.shared_forget,
        keep=args.keep,
    )
    report = run_stress(config)
    print(report.table())
    if not report.ok:
        shown = report.check.lost_writes[:5] + report.check.unexpected[:5]
        if shown:
            print(f"\nsome ids: {', '.join(shown)}", file=sys.stderr)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
