"""End-to-end latency of Remembrancer with the real bundled embedder; prints a Markdown table.

Per store size: fill a fresh SQLite file via MemoryService.import_records, then time remember and
recall through the service. Against the 10k store: recall through an MCP client over stdio, and
the time from spawning `python -m remembrancer serve` to the tools/list answer. See --help.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mcp import Client
from mcp.client.stdio import StdioServerParameters

from remembrancer.config import BUNDLED_MODEL, Settings
from remembrancer.embeddings import FastEmbedder
from remembrancer.models import ExportRecord
from remembrancer.relevance import topic_words
from remembrancer.retrieval import DEPTH, query_words
from remembrancer.service import MemoryService
from remembrancer.storage import RowFilter, float32_bytes

RECALL_TARGET_MS = 15.0  # p50 at 10k memories
REMEMBER_TARGET_MS = 25.0  # p50
START_TARGET_S = 1.5  # process start to tools/list answer
MCP_SIZE = 10_000


def _words(text: str) -> list[str]:
    return text.split("|")


PEOPLE = _words(
    "Maria|Tomasz|Aiko|Priya|Jonas|Fatima|Liam|Chen Wei|Sofia|Kwame|Ingrid|Rafael|Noor|Dmitri|"
    "Elena|Hiroshi|Amara|Lucas|Yasmin|Olek|the user|the user's manager|the user's sister|"
    "the platform team|the design lead|our landlord"
)
VERBS = _words(
    "reviewed|postponed|signed off on|rewrote|booked|cancelled|migrated|benchmarked|paid for|"
    "complained about|approved|archived|documented|split up|renamed|rolled back|ordered|"
    "rescheduled|audited|asked for a second opinion on|shipped|deprecated|started learning|"
    "finished|forgot about"
)
OBJECTS = _words(
    "the billing service|the quarterly budget|flights to Osaka|the onboarding guide|"
    "the database backup script|the kitchen renovation|the Kubernetes upgrade|"
    "the API rate limits|the wedding venue|the dentist appointment|"
    "the Rust rewrite of the parser|the CI pipeline|the marketing site redesign|the tax return|"
    "the Postgres 16 migration|the holiday rota|the new laptop|the grant application|"
    "the search ranking experiment|the piano lessons|the feature flag cleanup|"
    "the insurance claim|the on-call handbook|the TLS certificates|the car lease|"
    "the quarterly OKRs|the logging pipeline|the guest list|the React upgrade|"
    "the data retention policy|the garden fence|the SSO integration"
)
PLACES = _words(
    "at the Berlin office|from home|during the offsite in Porto|in the #infra channel|over lunch|"
    "on the train to Lyon|in the Monday stand-up|at the client site in Austin|"
    "in a late-night call|at the Kraków meetup|by email|in the retro|at the parents' place|"
    "in the shared planning doc|before the board meeting|in Slack"
)
REASONS = _words(
    "||| because the old cluster kept timing out| after the audit flagged it|"
    " to save about {n} euros a month| since the vendor raised prices by {n}%|"
    " as agreed in ticket OPS-{n}| because the deadline moved to week {w}|"
    " after {n} customers asked for it| to unblock the release| because nobody owned it|"
    " on the doctor's advice| while waiting for legal review"
)
TOPICS = _words(
    "budget|deadlines|travel|infrastructure|health|hiring|family|security|release plans|finances|"
    "home|learning"
)
TAGS = ("work", "personal", "decision", "preference", "project", "finance", "travel", "infra", "health")
START_DATE = datetime(2022, 1, 1, tzinfo=UTC)


def _date(rng: random.Random) -> datetime:
    return START_DATE + timedelta(days=rng.randrange(1400), minutes=rng.randrange(1440))


def _sentence(rng: random.Random) -> str:
    who, verb, what, where = rng.choice(PEOPLE), rng.choice(VERBS), rng.choice(OBJECTS), rng.choice(PLACES)
    why = rng.choice(REASONS).format(n=rng.randrange(2, 900), w=rng.randrange(1, 53))
    day = f"{_date(rng):%-d %B %Y}"
    form = rng.randrange(4)
    if form == 0:
        text = f"{who} {verb} {what} {where} on {day}{why}."
    elif form == 1:
        text = f"On {day}, {who} {verb} {what} {where}{why}."
    elif form == 2:
        text = f"Note about {rng.choice(TOPICS)}: {who} {verb} {what}{why} ({where}, {day})."
    else:
        text = f"Follow-up for week {rng.randrange(1, 53)}: {who} {verb} {what} {where}{why}."
    return text[0].upper() + text[1:]


def unique_texts(seed: int, count: int, exclude: set[str] | None = None) -> list[str]:
    """Deterministic, distinct sentences (none in `exclude`)."""
    rng, seen, out = random.Random(seed), set(exclude or ()), list[str]()
    while len(out) < count:
        text = _sentence(rng)
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


def queries(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    forms: tuple[Callable[[], str], ...] = (
        lambda: f"what did {rng.choice(PEOPLE)} decide about {rng.choice(OBJECTS)}?",
        lambda: f"{rng.choice(OBJECTS)} {rng.choice(PLACES)}",
        lambda: f"who {rng.choice(VERBS)} {rng.choice(OBJECTS)}",
        lambda: f"anything about {rng.choice(TOPICS)} from {_date(rng):%B %Y}",
    )
    return [rng.choice(forms)() for _ in range(count)]


def records(texts: list[str], seed: int) -> Iterator[ExportRecord]:
    rng = random.Random(seed)
    for i, text in enumerate(texts):
        at = _date(rng)
        yield ExportRecord(
            id=f"m_{i:016x}",
            content=text,
            scope="default",
            tags=rng.sample(TAGS, rng.randrange(3)),
            metadata={"source": "bench"},
            created_at=at,
            updated_at=at,
        )


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def timed_ms(call: Callable[..., object], *args: object) -> float:
    start = time.perf_counter()
    call(*args)
    return (time.perf_counter() - start) * 1000


@dataclass
class SizeResult:
    size: int
    fill_s: float
    recall_ms: list[float]
    remember_ms: list[float]
    added: int
    db: Path
    parts_ms: dict[str, list[float]] = field(default_factory=dict)  # where a recall's time goes


def recall_parts(service: MemoryService, texts: list[str]) -> dict[str, list[float]]:
    """Each part of a recall timed alone, in the order recall runs them: the query's embedding
    and the vector scan (on a worker), beside the text side (document frequencies and FTS5)."""
    parts: dict[str, list[float]] = {"embed": [], "vectors": [], "text": []}
    scopes, store = ["default"], service.store
    for text in texts:
        start = time.perf_counter()
        vector = float32_bytes(service.embedder.embed([text])[0])
        parts["embed"].append((time.perf_counter() - start) * 1000)
        parts["vectors"].append(timed_ms(store.searcher(scopes, DEPTH), vector))
        start = time.perf_counter()
        words = query_words(text)
        store.full_text(topic_words(words), RowFilter(tuple(scopes)), DEPTH, store.word_frequencies(words))
        parts["text"].append((time.perf_counter() - start) * 1000)
    return parts


@dataclass
class McpResult:
    size: int
    start_s: list[float] = field(default_factory=list)
    recall_ms: list[float] = field(default_factory=list)
    empty_tool_ms: list[float] = field(default_factory=list)  # the protocol's own floor, our transport
    sdk_empty_tool_ms: list[float] = field(default_factory=list)  # ... the SDK's stdio transport


#: A server of the same SDK whose one tool does nothing: what any tool call costs over stdio here,
#: served through our stdio transport (remembrancer.stdio_transport) or the SDK's own.
EMPTY_TOOL_SERVER = """
import sys
from mcp.server.mcpserver import MCPServer
from remembrancer.stdio_transport import serve_stdio
server = MCPServer("empty")
@server.tool()
def echo(query: str) -> str:
    return query
serve_stdio(server) if sys.argv[1] == "ours" else server.run()
"""


def measure_size(size: int, embedder: FastEmbedder, root: Path, ops: int) -> SizeResult:
    db = root / f"store-{size}" / "memory.db"
    service = MemoryService.open(Settings(db_path=db), embedder)
    try:
        fill = unique_texts(seed=size, count=size)
        start = time.perf_counter()
        report = service.import_records(records(fill, seed=size + 1))
        fill_s = time.perf_counter() - start
        assert report.imported == size, report
        service.recall("warm-up", limit=5)
        recall_ms = [timed_ms(service.recall, q, 5) for q in queries(size + 2, ops)]
        parts = recall_parts(service, queries(size + 2, ops)) if size <= MCP_SIZE else {}
        remember_ms, added = [], 0
        for text in unique_texts(seed=size + 3, count=ops, exclude=set(fill)):
            start = time.perf_counter()
            result = service.remember(text, ["bench"], {"source": "bench"}, actor="bench")
            remember_ms.append((time.perf_counter() - start) * 1000)
            added += result.status == "added"
    finally:
        service.close()
    return SizeResult(size, fill_s, recall_ms, remember_ms, added, db, parts)


def server_params(db: Path | str) -> StdioServerParameters:
    # The server logs to stderr; WARNING keeps it quiet but still shows real trouble.
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "remembrancer", "serve", "--db", str(db)],
        # PYTHONPATH passes on, so another checkout's code can be measured side by side.
        env={
            "REMEMBRANCER_LOG_LEVEL": "WARNING",
            **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"},
        },
    )


async def measure_mcp(db: Path | str, size: int, calls: int, starts: int) -> McpResult:
    result = McpResult(size)
    for _ in range(starts):
        start = time.perf_counter()  # right before the spawn
        async with Client(server_params(db)) as client:
            listed = await client.list_tools()
            result.start_s.append(time.perf_counter() - start)
        assert {"remember", "recall", "forget"} <= {tool.name for tool in listed.tools}, listed
    async with Client(server_params(db)) as client:
        for i, query in enumerate(["warm-up (waits for the model)", *queries(size + 4, calls)]):
            start = time.perf_counter()
            answer = await client.call_tool("recall", {"query": query, "limit": 5})
            if i:
                result.recall_ms.append((time.perf_counter() - start) * 1000)
            if answer.is_error:
                raise RuntimeError(f"recall over MCP failed: {answer.content}")
    for transport, timings in (("ours", result.empty_tool_ms), ("sdk", result.sdk_empty_tool_ms)):
        empty = StdioServerParameters(
            command=sys.executable, args=["-c", EMPTY_TOOL_SERVER, transport], env=server_params(db).env
        )
        async with Client(empty) as client:
            for i, query in enumerate(["warm-up", *queries(size + 4, calls)]):
                start = time.perf_counter()
                await client.call_tool("echo", {"query": query})
                if i:
                    timings.append((time.perf_counter() - start) * 1000)
    return result


def row(measure: str, size: int, cells: tuple[str, str], target: str = "—", met: bool | None = None) -> str:
    verdict = "—" if met is None else "yes" if met else "**NO**"
    return f"| {measure} | {size:,} | {cells[0]} | {cells[1]} | {target} | {verdict} |"


def ms(values: list[float]) -> tuple[str, str]:
    return f"{pct(values, 50):.1f} ms", f"{pct(values, 95):.1f} ms"


def table(sizes: list[SizeResult], mcp: McpResult) -> str:
    rows = ["| Measure | N | p50 (or value) | p95 | Target | Met |", "|---|---:|---:|---:|---|:-:|"]
    for r in sizes:
        rate = (f"{r.size / r.fill_s:,.0f} memories/s", f"{r.fill_s:.1f} s in all")
        rows.append(row("ingest (import_records)", r.size, rate))
    for r in sizes:
        measure = f"remember, service ({r.added}/{len(r.remember_ms)} added)"
        ok = pct(r.remember_ms, 50) <= REMEMBER_TARGET_MS
        rows.append(row(measure, r.size, ms(r.remember_ms), f"p50 ≤ {REMEMBER_TARGET_MS:g} ms", ok))
    for r in sizes:
        target = f"p50 ≤ {RECALL_TARGET_MS:g} ms at 10k" if r.size <= MCP_SIZE else "— (target is at 10k)"
        met = pct(r.recall_ms, 50) <= RECALL_TARGET_MS if r.size <= MCP_SIZE else None
        rows.append(row("recall limit 5, service", r.size, ms(r.recall_ms), target, met))
    measure = f"recall limit 5, MCP client over stdio ({len(mcp.recall_ms)} calls)"
    rows.append(row(measure, mcp.size, ms(mcp.recall_ms)))
    median = statistics.median(mcp.start_s)
    measure = f"process start → tools/list answer (median of {len(mcp.start_s)})"
    cells = (f"{median:.2f} s", f"max {max(mcp.start_s):.2f} s")
    rows.append(row(measure, mcp.size, cells, f"≤ {START_TARGET_S:g} s", median <= START_TARGET_S))
    return "\n".join(rows)


def parts_table(sizes: SizeResult, mcp: McpResult) -> str:
    """Where a recall's time goes at the MCP size (p50 of each part timed alone)."""
    embed, vectors, text = (statistics.median(sizes.parts_ms[name]) for name in ("embed", "vectors", "text"))
    service, over_mcp = statistics.median(sizes.recall_ms), statistics.median(mcp.recall_ms)
    rows = [
        f"Where a recall limit 5 spends its time at {sizes.size:,} memories"
        " (p50 of each part timed alone):\n",
        "| part | ms |",
        "|---|---:|",
        f"| embed the query (on a worker) | {embed:.1f} |",
        f"| exact scan for the {DEPTH} nearest vectors (on the worker, then) | {vectors:.1f} |",
        f"| document frequencies and FTS5 (main thread, while the worker runs) | {text:.1f} |",
        f"| the rest: scoring candidates, neighbours, filter, hits (service - the longer side) "
        f"| {max(0.0, service - max(embed + vectors, text)):.1f} |",
        f"| the whole recall at the service | {service:.1f} |",
        f"| on top through MCP over stdio (client p50 - service p50) | {over_mcp - service:.1f} |",
        f"| a tool that does nothing, same SDK and transport (client p50: the protocol's floor) "
        f"| {statistics.median(mcp.empty_tool_ms):.1f} |",
        f"| the same tool over the SDK's own stdio transport (a thread per line read and written) "
        f"| {statistics.median(mcp.sdk_empty_tool_ms):.1f} |",
        f"| the floor of any recall through MCP: that tool + embedding the query "
        f"| {statistics.median(mcp.empty_tool_ms) + embed:.1f} |",
    ]
    return "\n".join(rows)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Remembrancer end-to-end latency; prints a Markdown table.")
    parser.add_argument("--sizes", help="comma-separated store sizes (default 1000,10000)")
    parser.add_argument("--with-100k", action="store_true", help="add a 100,000-memory store (slow fill)")
    parser.add_argument("--quick", action="store_true", help="smoke run: N=500, 30 operations, 3 starts")
    parser.add_argument("--ops", type=int, help="remember and recall calls per size (default 200)")
    parser.add_argument("--mcp-calls", type=int, help="recall calls over MCP (default 100)")
    parser.add_argument("--starts", type=int, help="server starts to time (default 5)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary stores")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    default = [500] if args.quick else [1_000, 10_000]
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else default
    if args.with_100k and 100_000 not in sizes:
        sizes.append(100_000)
    ops = args.ops or (30 if args.quick else 200)
    calls = args.mcp_calls or (30 if args.quick else 100)
    starts = args.starts or (3 if args.quick else 5)

    began, load_before = time.perf_counter(), os.getloadavg()[0]
    embedder = FastEmbedder()
    embedder.embed(["load the model before timing anything"])
    root = Path(tempfile.mkdtemp(prefix="remembrancer-bench-"))
    try:
        results = []
        for size in sorted(sizes):
            print(f"filling and measuring N={size:,} ...", file=sys.stderr, flush=True)
            results.append(measure_size(size, embedder, root, ops))
        target = max([r for r in results if r.size <= MCP_SIZE] or results[:1], key=lambda r: r.size)
        print(f"measuring MCP over stdio against N={target.size:,} ...", file=sys.stderr, flush=True)
        mcp = asyncio.run(measure_mcp(target.db, target.size, calls, starts))
    finally:
        if args.keep:
            print(f"stores kept in {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    elapsed = time.perf_counter() - began

    print(f"## Remembrancer latency ({BUNDLED_MODEL}, real SQLite file, end to end incl. embedding)\n")
    print(
        f"cpu count: {os.cpu_count()} · load average {load_before:.2f} at start, {os.getloadavg()[0]:.2f} "
        f"at end · Python {sys.version.split()[0]} · {ops} remember + {ops} recall per size · "
        f"whole run {elapsed:.0f} s\n"
    )
    print(table(results, mcp))
    measured = next((r for r in results if r.parts_ms and r.size == mcp.size), None)
    if measured is not None:
        print("\n" + parts_table(measured, mcp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
