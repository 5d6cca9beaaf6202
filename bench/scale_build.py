"""The stores `bench/scale.py` measures: a corpus of real texts embedded once, and big stores of
synthetic memories written through the storage protocol (``Storage.transaction`` and
``Storage.insert`` in large transactions), on either engine.

Each memory is a base text plus varied words, its vector the base's plus noise (cosine ~0.9), in
one of 5 scopes. On SQLite, above --fast-context-above memories the build answers Store.insert's
"previous memory of the sitting" lookup itself (before schema step 4 the server's query sorted the
whole scope, which made a 1M build quadratic). On PostgreSQL the build runs ``vacuum (analyze)``
after each chunk (``after_chunk``), as autovacuum would on a server in use: without statistics the
engine's lookup reads every row of the scope for each insert (see bench/RESULTS.md, session 8).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np

from latency import PEOPLE, PLACES, records
from locomo import DEFAULT_DATA as LOCOMO
from locomo import load as load_locomo
from remembrancer import transfer
from remembrancer import validation as check
from remembrancer.embeddings import FastEmbedder
from remembrancer.storage import NewMemory, Storage
from remembrancer.storage.sqlite import text_index
from remembrancer.storage.sqlite.store import Store

STS = LOCOMO.parents[1] / "stsbenchmark" / "sts-train.csv"
SCOPES = ("default", "work", "home", "project-atlas", "reading")
TAGS = ("work", "personal", "decision", "preference", "travel", "health", "finance", "idea")
COSINE_TO_BASE, CHUNK, START = 0.9, 5_000, datetime(2021, 1, 1, tzinfo=UTC)


@dataclass
class Corpus:
    texts: list[str]  # stored, as the bases of synthetic memories
    vectors: np.ndarray
    queries: list[str]  # held out: paraphrases of stored texts, alternating with unrelated texts
    spare: list[str]  # held out, for remember


def load_corpus(embedder: FastEmbedder, ops: int, seed: int, cache: Path | None) -> Corpus:
    turns, _ = load_locomo(LOCOMO)
    texts, pairs = dict.fromkeys(turn.text for turn in turns), []
    for line in STS.read_text(encoding="utf-8").splitlines():
        cells = line.split("\t")  # no csv quoting: sentences hold stray quotes
        if len(cells) >= 7:
            a, b = cells[5].strip(), cells[6].strip()
            texts.update(dict.fromkeys((a, b)))
            if float(cells[4]) >= 4 and a.casefold() != b.casefold() and (a + b).isprintable():
                pairs.append((a, b))
    rng = random.Random(seed)
    rng.shuffle(pairs)
    kept = {a for a, _ in pairs[: ops * 2]}
    paraphrases = list(dict.fromkeys(b for _, b in pairs[: ops * 2] if b not in kept))
    others = [t for t in texts if t.isprintable() and t not in kept and t not in set(paraphrases)]
    rng.shuffle(others)
    plain, stored = others[: ops * 3], [*sorted(kept), *others[ops * 3 :]]
    queries = [q for pair in zip(paraphrases, plain, strict=False) for q in pair][:ops]
    digest = hashlib.sha256("\n".join([embedder.name, *stored]).encode()).hexdigest()[:12]
    cached = cache / f"corpus-{digest}.npy" if cache else None
    if cached is not None and cached.exists():
        return Corpus(stored, np.load(cached), queries, plain[ops:])
    print(f"embedding {len(stored):,} base texts ...", file=sys.stderr, flush=True)
    vectors = np.asarray(embedder.embed(stored), dtype=np.float32)
    if cached is not None:
        np.save(cached, vectors)
    return Corpus(stored, vectors, queries, plain[ops:])


def synth_text(base: str, i: int, rng: random.Random) -> str:
    who, where = rng.choice(PEOPLE), rng.choice(PLACES)
    forms: tuple[str, ...] = (f"{base} ({who}, {where}, #{i})", f"{who} noted {where}: {base} [ref {i}]")
    forms += (f"{base} Logged {where} by {who}, item {i}.", f"Note {i}, {rng.choice(TAGS)}: {base}")
    return forms[i % 4]


class TimedConn:
    """Stands in for the store's connection during a build, adding up time per kind of statement
    (either engine: both stores send every statement through ``conn.execute``)."""

    def __init__(self, conn: Any) -> None:
        self.conn, self.spent = conn, defaultdict[str, float](float)

    def _run(self, call: Callable[..., Any], sql: str, args: tuple[Any, ...]) -> Any:
        started = time.perf_counter()
        try:
            return call(sql, *args)
        finally:
            words = str(sql).replace("(", " ").split() or ["?"]
            kind = " ".join(words[:3]) if words[0] in ("insert", "delete") else words[0]
            kind = "context lookup" if str(sql).startswith("select rowid, content, coalesce(") else kind
            self.spent[kind] += time.perf_counter() - started

    def execute(self, sql: str, *args: Any) -> Any:
        return self._run(self.conn.execute, sql, args)

    def executemany(self, sql: str, *args: Any) -> Any:
        return self._run(self.conn.executemany, sql, args)

    def __getattr__(self, name: str) -> Any:  # in_transaction, transaction(), ...
        return getattr(self.conn, name)


@dataclass
class Build:
    seconds: float = 0.0
    rate: float = 0.0
    last_rate: float = 0.0  # memories/s in the last chunk: what one more memory costs at this size
    last_us: dict[str, float] = field(default_factory=dict)  # µs per memory in the last chunk
    server_lookup: bool = True
    bytes_per_memory: float = 0.0
    database_bytes: int = 0
    reused: bool = False


class SittingTracker:
    """The bench's context lookup: the last memory written per scope, instead of the server's
    query for the previous memory in the sitting (which grows with the scope)."""

    def __init__(self) -> None:
        self.last: dict[str, tuple[int, str, str]] = {}  # scope -> (rowid, content, created_at)

    def previous(self, conn: Any, scope: str, created_at: str) -> tuple[int, str] | None:
        if scope not in self.last:
            return None
        rowid, content, at = self.last[scope]
        gap = abs((datetime.fromisoformat(created_at) - datetime.fromisoformat(at)).total_seconds())
        return (rowid, content) if gap <= text_index.SITTING_SECONDS else None

    def agrees_with_server(self, conn: Any) -> None:
        for scope, (rowid, content, at) in self.last.items():
            assert text_index.previous_in_sitting(conn, scope, at) == (rowid, content), scope


def build(
    store: Storage,
    corpus: Corpus,
    size: int,
    seed: int,
    fast_context: bool = False,
    after_chunk: Callable[[], None] | None = None,
) -> Build:
    """``size`` memories into the empty ``store``; ``fast_context`` (SQLite only) as above,
    ``after_chunk`` run after each committed chunk and once more at the end."""
    dim, engine = corpus.vectors.shape[1], store
    rng, words = np.random.default_rng(seed), random.Random(seed)
    sigma = float(np.sqrt((1 / COSINE_TO_BASE**2 - 1) / dim))  # noise norm tan(acos(0.9)) ≈ 0.48
    tracker, sqlite = SittingTracker(), isinstance(store, Store)
    fast_context = fast_context and sqlite

    assert store.counts()["memories"] == 0, "build needs an empty store"
    conn: Any = getattr(engine, "conn")  # noqa: B009 (both engines keep one; not in the protocol)
    timer, result = TimedConn(conn), Build(server_lookup=not fast_context)
    patch = mock.patch.object(text_index, "previous_in_sitting", tracker.previous)
    setattr(engine, "conn", timer)  # noqa: B010
    began = time.perf_counter()
    try:
        if fast_context:
            patch.start()
        for start in range(0, size, CHUNK):
            count, chunk_began, before = min(CHUNK, size - start), time.perf_counter(), dict(timer.spent)
            picks = rng.integers(0, len(corpus.texts), count)
            noisy = corpus.vectors[picks] + rng.normal(0.0, sigma, (count, dim)).astype(np.float32)
            noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
            with store.transaction():
                for j, i in enumerate(range(start, start + count)):
                    scope, text = words.choice(SCOPES), synth_text(corpus.texts[picks[j]], i, words)
                    at = check.timestamp(START + timedelta(seconds=45 * i + 7200 * (i // 30)))
                    tags = words.sample(TAGS, words.randrange(3))
                    digest, memory_id = check.content_hash(text), transfer.new_id()
                    memory = NewMemory(memory_id, text, digest, scope, tags, {}, at, at)
                    tracker.last[scope] = (
                        store.insert(memory, noisy[j].tobytes(), actor="bench").rowid,
                        text,
                        at,
                    )
            elapsed = time.perf_counter() - chunk_began
            result.last_rate = count / elapsed
            result.last_us = {k: (v - before.get(k, 0.0)) * 1e6 / count for k, v in timer.spent.items()}
            result.last_us["python and the rest"] = elapsed * 1e6 / count - sum(result.last_us.values())
            if after_chunk is not None:
                after_chunk()
            if (start // CHUNK) % 10 == 9 or start + count == size:
                print(f"  {start + count:,}: {result.last_rate:,.0f}/s now", file=sys.stderr, flush=True)
    finally:
        if fast_context:
            patch.stop()
        setattr(engine, "conn", timer.conn)  # noqa: B010
    result.seconds = time.perf_counter() - began
    result.rate = size / result.seconds
    if sqlite:
        tracker.agrees_with_server(timer.conn)
    store.checkpoint()
    result.database_bytes = store.file_bytes()
    result.bytes_per_memory = result.database_bytes / size
    return result


def cli_env(root: Path) -> dict[str, str]:
    """This environment without our settings or an API key, offline, the data folder in ``root``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REMEMBRANCER_", "ANTHROPIC_"))}
    return {**env, "HF_HUB_OFFLINE": "1", "XDG_DATA_HOME": str(root / "xdg-data")}


def cli_import(targets: Iterator[str], corpus: Corpus, count: int, root: Path) -> tuple[float, float]:
    """`remembrancer import FILE --db TARGET` of ``count`` memories (JSON Lines as `export` writes
    them) into a fresh store: memories/s over the command's whole run, and net of the run of a
    one-memory import (process start, model load, opening the store)."""
    script = Path(sys.executable).parent / "remembrancer"
    seconds = []
    for texts in (corpus.texts[count : count + 1], corpus.texts[:count]):
        path = root / f"import-{len(texts)}.jsonl"
        path.write_text("".join(r.model_dump_json() + "\n" for r in records(texts, seed=len(texts))))
        command = [str(script), "import", str(path), "--db", next(targets), "--json"]
        began = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=cli_env(root), timeout=1800)
        seconds.append(time.perf_counter() - began)
        report = json.loads(done.stdout) if done.returncode == 0 else {}
        assert report.get("imported") == len(texts), (done.returncode, done.stdout, done.stderr[-2000:])
    return count / seconds[1], (count - 1) / (seconds[1] - seconds[0])
