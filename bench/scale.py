"""Remembrancer at 10k, 100k (and 1M) memories, end to end through MemoryService; prints one table.

Real text (LoCoMo turns, STS-B train sentences; read from ../shared/data, never copied) is embedded
once; each store holds synthetic memories in 5 scopes: a base text plus varied words, the base vector
plus noise (cosine ~0.9), written with Store.insert in large transactions. Queries are held-out texts
and STS-B paraphrases of stored ones. Above --fast-context-above memories the build answers
Store.insert's "previous memory of the sitting" lookup itself (before schema step 4 the server's
query sorted the whole scope, which made a 1M build quadratic); every measurement uses the
server's own code.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import median
from typing import Any
from unittest import mock

import numpy as np

from latency import PEOPLE, PLACES, measure_mcp, pct, records
from locomo import DEFAULT_DATA as LOCOMO
from locomo import load as load_locomo
from remembrancer import transfer
from remembrancer import validation as check
from remembrancer.config import BUNDLED_MODEL, Settings
from remembrancer.embeddings import FastEmbedder
from remembrancer.service import MemoryService
from remembrancer.storage.rows import NewMemory
from remembrancer.storage.sqlite import text_index
from remembrancer.storage.sqlite.store import sqlite_store

STS = LOCOMO.parents[1] / "stsbenchmark" / "sts-train.csv"
SCOPES = ("default", "work", "home", "project-atlas", "reading")
QUERY_SCOPES = (["default"], ["default", "work"])  # queries alternate between one scope and two
TAGS = ("work", "personal", "decision", "preference", "travel", "health", "finance", "idea")
COSINE_TO_BASE, CHUNK, START = 0.9, 5_000, datetime(2021, 1, 1, tzinfo=UTC)
RECALL_TARGETS = {10_000: (12.0, 25.0), 100_000: (25.0, 0.0), 1_000_000: (80.0, 0.0)}  # p50, p95 (0: none)
REMEMBER_MS, IMPORT_RATE, START_S, RSS_MB, RSS_AT = 20.0, 300.0, 1.0, 400.0, 100_000


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
    """Stands in for the store's connection during a build, adding up time per kind of statement."""

    def __init__(self, conn: Any) -> None:
        self.conn, self.spent = conn, defaultdict[str, float](float)

    def _run(self, call: Callable[..., Any], sql: str, args: tuple[Any, ...]) -> Any:
        started = time.perf_counter()
        try:
            return call(sql, *args)
        finally:
            words = sql.replace("(", " ").split()
            kind = " ".join(words[:3]) if words[0] in ("insert", "delete") else words[0]
            kind = "context lookup" if sql.startswith("select rowid, content, created_at") else kind
            self.spent[kind] += time.perf_counter() - started

    def execute(self, sql: str, *args: Any) -> Any:
        return self._run(self.conn.execute, sql, args)

    def executemany(self, sql: str, *args: Any) -> Any:
        return self._run(self.conn.executemany, sql, args)

    def __getattr__(self, name: str) -> Any:  # in_transaction, ...
        return getattr(self.conn, name)


@dataclass
class Build:
    seconds: float = 0.0
    rate: float = 0.0
    last_rate: float = 0.0  # memories/s in the last chunk: what one more memory costs at this size
    last_us: dict[str, float] = field(default_factory=dict)  # µs per memory in the last chunk
    server_lookup: bool = True
    bytes_per_memory: float = 0.0
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


def build(service: MemoryService, corpus: Corpus, size: int, seed: int, fast_context: bool) -> Build:
    store, dim = sqlite_store(service.store), corpus.vectors.shape[1]
    rng, words = np.random.default_rng(seed), random.Random(seed)
    sigma = float(np.sqrt((1 / COSINE_TO_BASE**2 - 1) / dim))  # noise norm tan(acos(0.9)) ≈ 0.48
    tracker = SittingTracker()

    assert store.counts()["memories"] == 0, "build needs an empty store"
    timer, result = TimedConn(store.conn), Build(server_lookup=not fast_context)
    patch = mock.patch.object(text_index, "previous_in_sitting", tracker.previous)
    store.conn, began = timer, time.perf_counter()
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
            if (start // CHUNK) % 10 == 9 or start + count == size:
                print(f"  {start + count:,}: {result.last_rate:,.0f}/s now", file=sys.stderr, flush=True)
    finally:
        if fast_context:
            patch.stop()
        store.conn = timer.conn
    result.seconds = time.perf_counter() - began
    result.rate = size / result.seconds
    tracker.agrees_with_server(store.conn)
    store.checkpoint()
    on_disk = (store.path, f"{store.path}-wal")
    result.bytes_per_memory = sum(os.path.getsize(p) for p in on_disk if os.path.exists(p)) / size
    return result


@dataclass
class Measured:
    size: int
    build: Build
    load_ms: float = 0.0  # the first recall, which loads the in-memory vector copy
    # ms per call of: recall (hybrid, limit 5), vector (mode="vector", limit 10), embed, remember
    ms: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    start_s: list[float] = field(default_factory=list)
    added: int = 0
    overlap: float = 0.0
    compact: bool = False
    rss: dict[str, int] = field(default_factory=dict)


def machine_conditions(load_before: tuple[float, float, float]) -> str:
    """Core count and load before and after a run: the other jobs a timing shared the machine with."""
    loads = ["/".join(f"{x:.2f}" for x in avg) for avg in (load_before, os.getloadavg())]
    return f"cpu count: {os.cpu_count()} · load average (1/5/15 min) {loads[0]} at start, {loads[1]} at end"


def timed(call: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    value = call(*args, **kwargs)
    return (time.perf_counter() - started) * 1000, value


def exact_vectors(service: MemoryService, scopes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    store = sqlite_store(service.store)
    with store.lock:
        sql = "select rowid, scope, embedding from memory_vectors"
        found = [(rowid, blob) for rowid, scope, blob in store.conn.execute(sql) if scope in scopes]
    matrix = np.frombuffer(b"".join(blob for _, blob in found), dtype=np.float32)
    rowids = np.fromiter((rowid for rowid, _ in found), dtype=np.int64, count=len(found))
    return rowids, matrix.reshape(len(found), -1)


def measure(service: MemoryService, corpus: Corpus, m: Measured, remembers: int) -> None:
    m.load_ms = timed(service.recall, corpus.queries[0], 5, scope=QUERY_SCOPES[0])[0]
    for k, query in enumerate(corpus.queries):
        m.ms["recall"].append(timed(service.recall, query, 5, scope=QUERY_SCOPES[k % 2])[0])
    overlaps, exact = [], {tuple(s): exact_vectors(service, s) for s in QUERY_SCOPES}
    for k, query in enumerate(corpus.queries):
        spent, answer = timed(service.recall, query, 10, scope=QUERY_SCOPES[k % 2], mode="vector")
        m.ms["vector"].append(spent)
        spent, vectors = timed(service.embedder.embed, [query])
        m.ms["embed"].append(spent)
        rowids, matrix = exact[tuple(QUERY_SCOPES[k % 2])]
        best = rowids[np.argsort(-(matrix @ np.asarray(vectors[0], dtype=np.float32)))[:10]]
        truth = {row.id for row in service.store.get_by_rowids([int(r) for r in best]).values()}
        overlaps.append(len(truth & {hit.id for hit in answer.hits}) / 10)
    m.overlap, m.compact = (
        sum(overlaps) / len(overlaps),
        bool(getattr(sqlite_store(service.store).vectors, "compact", 0)),
    )
    del exact
    added: list[str] = []
    for i, text in enumerate(corpus.spare[:remembers]):
        fact = f"{text} (remembered {i} by {PEOPLE[i % len(PEOPLE)]})"
        spent, result = timed(service.remember, fact, ["bench"], scope="default", actor="bench")
        m.ms["remember"].append(spent)
        if result.status == "added" and result.memory is not None:
            added.append(result.memory.id)
    m.added = len(added)
    if added:  # leave the store as built, for --keep-dir
        service.forget(added, actor="bench")


def rss_probe(db: Path) -> None:
    """In its own process: open the store as a server would, recall, report resident memory (kB)."""
    queries = json.loads(sys.stdin.read())
    service = MemoryService.open(Settings(db_path=db), FastEmbedder())
    for k, query in enumerate(queries):
        service.recall(query, 5, scope=QUERY_SCOPES[k % 2])
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    print(json.dumps({key: int(status[key].split()[0]) for key in ("VmRSS", "VmHWM", "RssAnon", "RssFile")}))


def bulk_import(embedder: FastEmbedder, corpus: Corpus, db: Path, count: int) -> float:
    service = MemoryService.open(Settings(db_path=db), embedder)
    try:
        spent, report = timed(
            service.import_records, records(corpus.texts[:count], seed=count), actor="bench"
        )
    finally:
        service.close()
    assert report.imported == count, report
    return float(count / spent * 1000)


def run_size(size: int, args: argparse.Namespace, root: Path, corpus: Corpus, em: FastEmbedder) -> Measured:
    folder = root / f"store-{size}"
    marker, db = folder / "built.json", folder / "memory.db"
    if not marker.exists():
        shutil.rmtree(folder, ignore_errors=True)
    service = MemoryService.open(Settings(db_path=db), em)
    try:
        if marker.exists():
            result = Measured(size, Build(**{**json.loads(marker.read_text()), "reused": True}))
        else:
            fast = size > args.fast_context_above
            print(f"building N={size:,} ({'bench' if fast else 'server'} context lookup)", file=sys.stderr)
            result = Measured(size, build(service, corpus, size, args.seed + size, fast))
            marker.write_text(json.dumps(asdict(result.build)))
        print(f"measuring N={size:,} ...", file=sys.stderr, flush=True)
        measure(service, corpus, result, args.remembers)
    finally:
        service.close()
    probe, queries = [sys.executable, __file__, "--rss-probe", str(db)], json.dumps(corpus.queries[:20])
    done = subprocess.run(probe, input=queries, capture_output=True, text=True, check=True)
    result.rss = json.loads(done.stdout.strip().splitlines()[-1])
    result.start_s = asyncio.run(measure_mcp(db, size, 0, args.starts)).start_s
    return result


def table(results: list[Measured], import_rate: float, import_count: int) -> list[str]:
    lines = ["| what | N | measured | target | met |", "|---|---:|---:|---|:-:|"]

    def add(what: str, n: str, value: str, target: str = "report", met: bool | None = None) -> None:
        verdict = "—" if met is None else "yes" if met else "**NO**"
        lines.append(f"| {what} | {n} | {value} | {target} | {verdict} |")

    for m in results:
        n, b, p50, p95 = f"{m.size:,}", m.build, pct(m.ms["recall"], 50), pct(m.ms["recall"], 95)
        goal50, goal95 = RECALL_TARGETS.get(m.size, (0.0, 0.0))
        target = f"p50 ≤ {goal50:g} ms" + (f" / p95 ≤ {goal95:g} ms" if goal95 else "")
        met = None if not goal50 else p50 <= goal50 and (not goal95 or p95 <= goal95)
        what = f"recall limit 5, p50 / p95 ({len(m.ms['recall'])} queries)"
        add(what, n, f"{p50:.1f} / {p95:.1f} ms", target if goal50 else "report", met)
        r50, r95, goal = pct(m.ms["remember"], 50), pct(m.ms["remember"], 95), f"p50 ≤ {REMEMBER_MS:g} ms"
        what = f"remember p50 / p95, no LLM ({m.added}/{len(m.ms['remember'])} added)"
        add(what, n, f"{r50:.1f} / {r95:.1f} ms", goal, r50 <= REMEMBER_MS)
        mode = "compact: sign bits + int8 rerank" if m.compact else "exact float32"
        add(f"vector top-10 overlap with exact brute force ({mode})", n, f"{m.overlap:.3f}")
        rss, anon, mapped, peak = (m.rss[k] / 1024 for k in ("VmRSS", "RssAnon", "RssFile", "VmHWM"))
        target, ok = (f"≤ {RSS_MB:g} MB", rss <= RSS_MB) if m.size == RSS_AT else ("report", None)
        value = f"{rss:.0f} MB (anon {anon:.0f}, file-backed {mapped:.0f}; peak {peak:.0f})"
        add("resident memory after 20 recalls (VmRSS)", n, value, target, ok)
        what, start = f"process start → tools/list, stdio (median of {len(m.start_s)})", median(m.start_s)
        add(what, n, f"{start:.2f} s (max {max(m.start_s):.2f} s)", f"≤ {START_S:g} s", start <= START_S)
        add("database bytes per memory (file + wal, after checkpoint)", n, f"{b.bytes_per_memory:,.0f} B")
        add("first recall of the process (loads the vector copy)", n, f"{m.load_ms:,.0f} ms")
        how = f"{'server' if b.server_lookup else 'bench'} context lookup{', reused' if b.reused else ''}"
        add(f"build via Store.insert ({how})", n, f"{b.rate:,.0f}/s; {b.last_rate:,.0f}/s at the end")
    what, ok = f"bulk import_records, real embeddings ({import_count:,} texts)", import_rate >= IMPORT_RATE
    add(what, "—", f"{import_rate:,.0f}/s", f"≥ {IMPORT_RATE:g}/s", ok)
    return lines


def notes(results: list[Measured]) -> list[str]:
    lines = []
    for m in results:
        b, n = m.build, f"{m.size:,}"
        parts = sorted(((v, k) for k, v in b.last_us.items() if v >= 0.5), reverse=True)
        costs = ", ".join(f"{k} {v:,.0f}" for v, k in parts)
        lines.append(f"- build {n}, µs per memory over the last {(m.size - 1) % CHUNK + 1:,}: {costs}")
        lines.append(
            f"- recall {n}, p50 of the parts: query embedding {pct(m.ms['embed'], 50):.1f} ms, vector-only"
            f" recall (limit 10) {pct(m.ms['vector'], 50):.1f} ms, hybrid {pct(m.ms['recall'], 50):.1f} ms"
        )
        if b.server_lookup and "context lookup" in b.last_us:  # grows with the scope: quadratic build
            lookup, rest = b.last_us["context lookup"], sum(b.last_us.values()) - b.last_us["context lookup"]
            hours = (lookup * 1e12 / (2 * m.size) + rest * 1e6) / 1e6 / 3600
            lines.append(f"- projected 1M build with the server's context lookup (from {n}): {hours:.1f} h")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description="Remembrancer at 10k-1M memories; prints a Markdown table.")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--with-1m", action="store_true", help="add 1,000,000 memories (see --keep-dir)")
    parser.add_argument("--ops", type=int, default=200, help="recall queries per size (default 200)")
    parser.add_argument("--remembers", type=int, default=100, help="remember calls per size (default 100)")
    parser.add_argument("--import-count", type=int, default=3000, help="texts for the import rate")
    parser.add_argument("--starts", type=int, default=3, help="server starts timed per size (default 3)")
    parser.add_argument("--keep-dir", type=Path, help="build stores here (and reuse them later)")
    parser.add_argument("--fast-context-above", type=int, default=100_000, help="see the module docstring")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rss-probe", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_probe:
        rss_probe(args.rss_probe)
        return 0
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    sizes = sorted({*args.sizes, *([1_000_000] if args.with_1m else [])})
    began, load_before = time.perf_counter(), os.getloadavg()
    embedder = FastEmbedder()
    embedder.embed(["load the model before timing anything"])
    root = args.keep_dir or Path(tempfile.mkdtemp(prefix="remembrancer-scale-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        corpus = load_corpus(embedder, args.ops, args.seed, args.keep_dir)
        print(f"bulk import of {args.import_count:,} texts ...", file=sys.stderr, flush=True)
        shutil.rmtree(root / "import", ignore_errors=True)
        import_rate = bulk_import(embedder, corpus, root / "import" / "memory.db", args.import_count)
        shutil.rmtree(root / "import", ignore_errors=True)
        results = [run_size(size, args, root, corpus, embedder) for size in sizes]
    finally:
        if args.keep_dir is None:
            shutil.rmtree(root, ignore_errors=True)
    print(f"## Remembrancer at scale ({BUNDLED_MODEL}; through MemoryService, query embedding included)\n")
    print(
        f"{machine_conditions(load_before)} · Python {sys.version.split()[0]}"
        f" · {len(corpus.texts):,} base texts, {len(SCOPES)} scopes, queries "
        f"in {QUERY_SCOPES[0]} or {QUERY_SCOPES[1]} · whole run {time.perf_counter() - began:.0f} s\n"
    )
    print("\n".join([*table(results, import_rate, args.import_count), "", *notes(results)]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
