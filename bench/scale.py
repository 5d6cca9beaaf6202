"""Remembrancer at 10k, 100k (and 1M) memories on SQLite and PostgreSQL side by side, end to end
through MemoryService; prints one table.

Real text (LoCoMo turns, STS-B train sentences; read from ../shared/data, never copied) is embedded
once; each store holds synthetic memories built through the storage protocol (bench/scale_build.py).
Queries are held-out texts and STS-B paraphrases of stored ones. PostgreSQL: an embedded server
the bench starts itself (bench/pg.py), or `--db postgresql://...` for an existing one, on which the
bench creates its databases (scale_10000, ...). Bulk import is timed through the console script
(`remembrancer import FILE --db ...`) on both engines. Every measurement uses the server's own code.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from statistics import median
from typing import Any

import numpy as np

from latency import PEOPLE, measure_mcp, pct
from pg import SHARED_BUFFERS, Postgres, postgres
from remembrancer.config import BUNDLED_MODEL, Settings
from remembrancer.embeddings import FastEmbedder
from remembrancer.service import MemoryService
from remembrancer.storage import RowFilter
from remembrancer.storage.sqlite.store import Store
from scale_build import CHUNK, SCOPES, Build, Corpus, build, cli_import, load_corpus

ENGINES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
QUERY_SCOPES = (["default"], ["default", "work"])  # queries alternate between one scope and two
# p50, p95 (0: none) of recall limit 5 at the service, per engine and size
RECALL_TARGETS = {
    "sqlite": {10_000: (12.0, 25.0), 100_000: (25.0, 0.0), 1_000_000: (80.0, 0.0)},
    "postgres": {100_000: (30.0, 0.0)},
}
REMEMBER_MS = {"sqlite": 20.0, "postgres": 30.0}  # p50, at every size
IMPORT_RATE, START_S, RSS_MB, RSS_AT = 300.0, 1.0, 400.0, 100_000


@dataclass
class Measured:
    engine: str
    size: int
    build: Build
    load_ms: float = 0.0  # the first recall (SQLite: loads the in-memory vector copy)
    forget_ms: float = 0.0  # one forget of every memory the remembers added
    # ms per call of: recall (hybrid, limit 5), vector (mode="vector", limit 10), embed, remember, mcp
    ms: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    start_s: list[float] = field(default_factory=list)
    added: int = 0
    overlap: float = 0.0
    vectors: str = ""
    rss: dict[str, int] = field(default_factory=dict)


def machine_conditions(load_before: tuple[float, float, float]) -> str:
    """Core count and load before and after a run: the other jobs a timing shared the machine with."""
    loads = ["/".join(f"{x:.2f}" for x in avg) for avg in (load_before, os.getloadavg())]
    return f"cpu count: {os.cpu_count()} · load average (1/5/15 min) {loads[0]} at start, {loads[1]} at end"


def timed(call: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    value = call(*args, **kwargs)
    return (time.perf_counter() - started) * 1000, value


def exact_top10(service: MemoryService, scopes: list[str]) -> Callable[[np.ndarray], set[str]]:
    """The ids of the 10 memories nearest a vector by brute force over the scopes (SQLite: its
    vector table in numpy; PostgreSQL: the engine's cosine of every live row of the scopes)."""
    store = service.store
    if isinstance(store, Store):
        with store.lock:
            sql = "select rowid, scope, embedding from memory_vectors"
            found = [(rowid, blob) for rowid, scope, blob in store.conn.execute(sql) if scope in scopes]
        matrix = np.frombuffer(b"".join(blob for _, blob in found), dtype=np.float32).reshape(len(found), -1)
        rowids = np.fromiter((rowid for rowid, _ in found), dtype=np.int64, count=len(found))

        def by_numpy(vector: np.ndarray) -> list[int]:
            return [int(r) for r in rowids[np.argsort(-(matrix @ vector))[:10]]]

        nearest = by_numpy
    else:
        live = [row.rowid for row in store.list_rows(RowFilter(tuple(scopes)), limit=10**9)]

        def by_engine(vector: np.ndarray) -> list[int]:
            cosines = store.similarities(vector.tobytes(), live, scopes)
            return sorted(cosines, key=lambda rowid: -cosines[rowid])[:10]

        nearest = by_engine
    return lambda vector: {row.id for row in store.get_by_rowids(nearest(vector)).values()}


def measure(service: MemoryService, corpus: Corpus, m: Measured, remembers: int) -> None:
    m.load_ms = timed(service.recall, corpus.queries[0], 5, scope=QUERY_SCOPES[0])[0]
    for k, query in enumerate(corpus.queries):
        m.ms["recall"].append(timed(service.recall, query, 5, scope=QUERY_SCOPES[k % 2])[0])
    overlaps, exact = [], {tuple(s): exact_top10(service, s) for s in QUERY_SCOPES}
    for k, query in enumerate(corpus.queries):
        spent, answer = timed(
            service.recall, query, 10, scope=QUERY_SCOPES[k % 2], mode="vector", min_score=0.0
        )
        m.ms["vector"].append(spent)
        spent, vectors = timed(service.embedder.embed, [query])
        m.ms["embed"].append(spent)
        truth = exact[tuple(QUERY_SCOPES[k % 2])](np.asarray(vectors[0], dtype=np.float32))
        overlaps.append(len(truth & {hit.id for hit in answer.hits}) / 10)
    m.overlap = sum(overlaps) / len(overlaps)
    if isinstance(service.store, Store):
        compact = bool(getattr(service.store.vectors, "compact", 0))
        m.vectors = "compact: sign bits + int8 rerank" if compact else "exact float32"
    else:
        m.vectors = "pgvector, the engine's own plan"
    del exact
    added: list[str] = []
    for i, text in enumerate(corpus.spare[:remembers]):
        fact = f"{text} (remembered {i} by {PEOPLE[i % len(PEOPLE)]})"
        spent, result = timed(service.remember, fact, ["bench"], scope="default", actor="bench")
        m.ms["remember"].append(spent)
        if result.status == "added" and result.memory is not None:
            added.append(result.memory.id)
    m.added = len(added)
    if added:  # leave the store as built, for --keep-dir; other servers wait while it rewrites
        m.forget_ms = timed(service.forget, added, actor="bench")[0]


def rss_probe(db: str) -> None:
    """In its own process: open the store as a server would, recall, report resident memory (kB)."""
    queries = json.loads(sys.stdin.read())
    service = MemoryService.open(Settings(db_path=db), FastEmbedder())
    for k, query in enumerate(queries):
        service.recall(query, 5, scope=QUERY_SCOPES[k % 2])
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    print(json.dumps({key: int(status[key].split()[0]) for key in ("VmRSS", "VmHWM", "RssAnon", "RssFile")}))


def marker_of(engine: str, size: int, root: Path) -> Path:
    """The build's record, beside the SQLite file (or for the database of that name)."""
    return root / (f"store-{size}" if engine == "sqlite" else f"postgres-store-{size}") / "built.json"


def import_rate(
    engine: str, pg: Postgres | None, corpus: Corpus, count: int, root: Path
) -> tuple[float, float]:
    print(f"bulk import of {count:,} memories into {engine} ...", file=sys.stderr, flush=True)
    if engine == "sqlite":
        for stale in root.glob("import-*.db*"):  # left by an earlier run in --keep-dir
            stale.unlink()
        return cli_import((str(root / f"import-{i}.db") for i in range(2)), corpus, count, root)
    assert pg is not None
    try:
        return cli_import((pg.fresh(f"scale_import_{i}") for i in range(2)), corpus, count, root)
    finally:
        for i in range(2):
            pg.drop(f"scale_import_{i}")


def store_target(engine: str, size: int, root: Path, pg: Postgres | None) -> tuple[str, bool]:
    """Where the store of this engine and size lives, and whether a kept one can be reused."""
    marker = marker_of(engine, size, root)
    if engine == "sqlite":
        db = marker.parent / "memory.db"
        if not marker.exists():
            shutil.rmtree(db.parent, ignore_errors=True)
            db.parent.mkdir(parents=True)
        return str(db), marker.exists()
    assert pg is not None
    name = f"scale_{size}"
    if marker.exists() and pg.exists(name):
        return pg.uri_of(name), True
    return pg.fresh(name), False


def run_size(
    engine: str, size: int, args: argparse.Namespace, root: Path, corpus: Corpus, em: FastEmbedder, pg: Any
) -> Measured:
    target, reuse = store_target(engine, size, root, pg)
    marker = marker_of(engine, size, root)
    service = MemoryService.open(Settings(db_path=target), em)
    try:
        if reuse:
            result = Measured(engine, size, Build(**{**json.loads(marker.read_text()), "reused": True}))
        else:
            fast = engine == "sqlite" and size > args.fast_context_above
            after = (lambda: pg.settle(f"scale_{size}")) if engine == "postgres" else None
            print(f"building {engine} N={size:,}", file=sys.stderr, flush=True)
            result = Measured(engine, size, build(service.store, corpus, size, args.seed + size, fast, after))
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text(json.dumps(asdict(result.build)))
        print(f"measuring {engine} N={size:,} ...", file=sys.stderr, flush=True)
        measure(service, corpus, result, args.remembers)
    finally:
        service.close()
    probe, queries = [sys.executable, __file__, "--rss-probe", target], json.dumps(corpus.queries[:20])
    done = subprocess.run(probe, input=queries, capture_output=True, text=True, check=True)
    result.rss = json.loads(done.stdout.strip().splitlines()[-1])
    mcp = asyncio.run(measure_mcp(target, size, args.mcp_calls, args.starts))
    result.start_s, result.ms["mcp"] = mcp.start_s, mcp.recall_ms
    return result


def verdict(value: str, met: bool | None) -> str:
    return value if met is None else f"{value} — yes" if met else f"{value} — **NO**"


def table(
    results: dict[str, list[Measured]], imports: dict[str, tuple[float, float]], count: int
) -> list[str]:
    engines = list(results)
    lines = [
        f"| what | N | target | {' | '.join(ENGINES[e] for e in engines)} |",
        f"|---|---:|---|{'---:|' * len(engines)}",
    ]

    def add(what: str, n: str, target: str, cells: list[str]) -> None:
        lines.append(f"| {what} | {n} | {target} | {' | '.join(cells)} |")

    def ms(values: list[float]) -> str:
        return f"{pct(values, 50):.1f} / {pct(values, 95):.1f} ms" if values else "—"

    for i, size in enumerate(r.size for r in results[engines[0]]):
        row, n = {e: results[e][i] for e in engines}, f"{size:,}"
        cells, goals = [], []
        for e, m in row.items():
            goal50, goal95 = RECALL_TARGETS[e].get(size, (0.0, 0.0))
            p50, p95 = pct(m.ms["recall"], 50), pct(m.ms["recall"], 95)
            met = None if not goal50 else p50 <= goal50 and (not goal95 or p95 <= goal95)
            cells.append(verdict(ms(m.ms["recall"]), met))
            if goal50:
                both = f"p50 ≤ {goal50:g}" + (f" / p95 ≤ {goal95:g}" if goal95 else "")
                goals.append(f"{ENGINES[e]} {both} ms")
        queries = len(row[engines[0]].ms["recall"])
        add(f"recall limit 5, service, p50 / p95 ({queries} queries)", n, "; ".join(goals) or "report", cells)
        calls = len(row[engines[0]].ms["mcp"])
        add(
            f"recall limit 5, MCP client over stdio ({calls} calls)",
            n,
            "report",
            [ms(m.ms["mcp"]) for m in row.values()],
        )
        cells = [
            verdict(
                f"{ms(m.ms['remember'])} ({m.added}/{len(m.ms['remember'])} added)",
                pct(m.ms["remember"], 50) <= REMEMBER_MS[e],
            )
            for e, m in row.items()
        ]
        goal = "; ".join(f"{ENGINES[e]} p50 ≤ {REMEMBER_MS[e]:g} ms" for e in engines)
        add("remember p50 / p95, no LLM", n, goal, cells)
        add(
            "vector top-10 overlap with exact brute force",
            n,
            "report",
            [f"{m.overlap:.3f} ({m.vectors})" for m in row.values()],
        )
        cells = []
        for m in row.values():
            rss, anon, mapped, peak = (m.rss[k] / 1024 for k in ("VmRSS", "RssAnon", "RssFile", "VmHWM"))
            value = f"{rss:.0f} MB (anon {anon:.0f}, file-backed {mapped:.0f}; peak {peak:.0f})"
            cells.append(verdict(value, rss <= RSS_MB if size == RSS_AT else None))
        target = f"≤ {RSS_MB:g} MB" if size == RSS_AT else "report"
        add("resident memory of the server process after 20 recalls (VmRSS)", n, target, cells)
        cells = [
            verdict(f"{median(m.start_s):.2f} s (max {max(m.start_s):.2f} s)", median(m.start_s) <= START_S)
            for m in row.values()
        ]
        add(
            f"process start → tools/list, stdio (median of {len(row[engines[0]].start_s)})",
            n,
            f"≤ {START_S:g} s",
            cells,
        )
        cells = [
            f"{m.build.database_bytes / 2**20:,.0f} MB ({m.build.bytes_per_memory:,.0f} B/memory)"
            for m in row.values()
        ]
        add(
            "database size after the build (SQLite: file + wal after checkpoint; PG: pg_database_size)",
            n,
            "report",
            cells,
        )
        add("first recall of the process", n, "report", [f"{m.load_ms:,.0f} ms" for m in row.values()])
        add(
            "one forget of the memories the remembers added, with the rewrite that removes their text",
            n,
            "report",
            [f"{m.forget_ms / 1000:,.1f} s ({m.added} memories)" for m in row.values()],
        )
        cells = [
            f"{m.build.rate:,.0f}/s; {m.build.last_rate:,.0f}/s at the end"
            + (" (reused)" if m.build.reused else "")
            for m in row.values()
        ]
        add("build via Storage.insert (bench only)", n, "report", cells)
    what = f"bulk `remembrancer import` of {count:,} memories: whole command / net of a 1-memory import"
    cells = [
        verdict(f"{imports[e][0]:,.0f}/s / {imports[e][1]:,.0f}/s", imports[e][0] >= IMPORT_RATE)
        for e in engines
    ]
    add(what, "—", f"≥ {IMPORT_RATE:g}/s (whole command)", cells)
    return lines


def notes(results: dict[str, list[Measured]]) -> list[str]:
    lines = []
    for engine, measured in results.items():
        for m in measured:
            b, n = m.build, f"{ENGINES[engine]} {m.size:,}"
            parts = sorted(((v, k) for k, v in b.last_us.items() if v >= 0.5), reverse=True)
            costs = ", ".join(f"{k} {v:,.0f}" for v, k in parts)
            lines.append(f"- build {n}, µs per memory over the last {(m.size - 1) % CHUNK + 1:,}: {costs}")
            lines.append(
                f"- recall {n}, p50 of the parts: query embedding {pct(m.ms['embed'], 50):.1f} ms,"
                f" vector-only recall (limit 10) {pct(m.ms['vector'], 50):.1f} ms,"
                f" hybrid {pct(m.ms['recall'], 50):.1f} ms"
            )
    return lines


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Remembrancer at 10k-1M memories; prints a Markdown table.")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--with-1m", action="store_true", help="add 1,000,000 memories (see --keep-dir)")
    parser.add_argument("--engines", nargs="+", choices=list(ENGINES), default=list(ENGINES))
    parser.add_argument(
        "--db",
        help="an existing PostgreSQL server: a postgresql:// URI of a database on it, as a user who may"
        " create databases (the bench makes scale_N there); default: an embedded server of its own",
    )
    parser.add_argument("--ops", type=int, default=200, help="recall queries per size (default 200)")
    parser.add_argument("--remembers", type=int, default=100, help="remember calls per size (default 100)")
    parser.add_argument("--mcp-calls", type=int, default=100, help="recall calls over MCP stdio per size")
    parser.add_argument("--import-count", type=int, default=3000, help="memories for the import rate")
    parser.add_argument("--starts", type=int, default=3, help="server starts timed per size (default 3)")
    parser.add_argument("--keep-dir", type=Path, help="build stores here (and reuse them later)")
    parser.add_argument("--fast-context-above", type=int, default=100_000, help="see scale_build.py")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--pg-shared-buffers", default=SHARED_BUFFERS, help=f"embedded server (default {SHARED_BUFFERS})"
    )
    parser.add_argument("--rss-probe", help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> int:
    args = parse_args()
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
    results: dict[str, list[Measured]] = {engine: [] for engine in args.engines}
    imports, described = {}, {}
    on_postgres = "postgres" in args.engines
    server = postgres(args.db, args.keep_dir, args.pg_shared_buffers) if on_postgres else nullcontext(None)
    try:
        with server as pg:
            corpus = load_corpus(embedder, args.ops, args.seed, args.keep_dir)
            for engine in args.engines:
                imports[engine] = import_rate(engine, pg, corpus, args.import_count, root)
                if pg is not None:
                    described[engine] = pg.describe() if engine == "postgres" else ""
            for size in sizes:
                for engine in args.engines:
                    results[engine].append(run_size(engine, size, args, root, corpus, embedder, pg))
    finally:
        if args.keep_dir is None:
            shutil.rmtree(root, ignore_errors=True)
    print(f"## Remembrancer at scale ({BUNDLED_MODEL}; through MemoryService, query embedding included)\n")
    print(
        f"{machine_conditions(load_before)} · Python {sys.version.split()[0]}"
        f" · {len(corpus.texts):,} base texts, {len(SCOPES)} scopes, queries "
        f"in {QUERY_SCOPES[0]} or {QUERY_SCOPES[1]} · whole run {time.perf_counter() - began:.0f} s"
        + "".join(f" · {text}" for text in described.values() if text)
        + "\n"
    )
    print("\n".join([*table(results, imports, args.import_count), "", *notes(results)]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
