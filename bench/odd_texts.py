"""Recall over memories of the largest size and odd shapes: 32 KB with no space, of commas, of
one greeting after another, of whitespace runs. Reading a memory's words for relevance must take
time linear in its length, whatever its shape: a pattern that backtracks turns one such memory
into seconds on every recall that meets it (bench/RESULTS.md, session 15).

Each shape is stored beside 200 ordinary memories, holding the query's words so that the word
side reads it on every recall; recalls go through the service and through an MCP client over
stdio. Prints a Markdown table.

    python bench/odd_texts.py [--calls 30]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from mcp import Client

from latency import server_params, unique_texts
from remembrancer.config import Settings
from remembrancer.embeddings import FastEmbedder
from remembrancer.service import MemoryService

SIZE = 32_000  # under the default content limit of 32,768 bytes
QUERY = "Which painting did Melanie finish?"
HEAD = "Melanie finished a painting. "
SHAPES = {
    "ordinary sentences": "We walked along the river and talked about the weekend. ",
    "one word, no space": "a",
    "commas": "x,",
    "greetings": "Thanks, Tim! ",
    "greeting, then a run of spaces": "hi" + " " * 200,
    "capitalised words and commas": "Lisbon, Portugal, ",
    "digits": "2023",
    "question marks": "?",
}


def shaped(unit: str) -> str:
    return HEAD + unit * ((SIZE - len(HEAD)) // len(unit))


async def over_mcp(db: Path, calls: int) -> list[float]:
    timings: list[float] = []
    async with Client(server_params(db)) as client:
        for i in range(calls + 1):
            start = time.perf_counter()
            answer = await client.call_tool("recall", {"query": QUERY, "limit": 5})
            if answer.is_error:
                raise SystemExit(f"recall failed over MCP: {answer}")
            if i:  # the first waits for the model
                timings.append((time.perf_counter() - start) * 1000)
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=30, help="recalls per shape and per way in")
    args = parser.parse_args()
    if args.calls < 1:
        parser.error("--calls must be 1 or more")
    embedder = FastEmbedder()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for number, (name, unit) in enumerate(SHAPES.items()):
            db = Path(folder) / f"odd-{number}.db"
            service = MemoryService.open(Settings(db_path=db), embedder)
            for text in unique_texts(number, 200):
                service.remember(text)
            service.remember(shaped(unit))
            service_ms = []
            for _ in range(args.calls):
                start = time.perf_counter()
                hits = service.recall(QUERY, 5).hits
                service_ms.append((time.perf_counter() - start) * 1000)
            found = any(hit.content.startswith(HEAD) for hit in hits)
            service.close()
            mcp_ms = asyncio.run(over_mcp(db, args.calls))
            p50, mcp_p50 = statistics.median(service_ms), statistics.median(mcp_ms)
            rows.append((name, found, p50, max(service_ms), mcp_p50))
    print("\n## Recall beside one 32 KB memory of an odd shape (200 ordinary memories, limit 5)\n")
    print("| the 32 KB memory | found | service p50 | service max | MCP stdio p50 |")
    print("|---|:-:|---:|---:|---:|")
    for name, found, p50, worst, mcp in rows:
        print(f"| {name} | {'yes' if found else 'no'} | {p50:.1f} ms | {worst:.1f} ms | {mcp:.1f} ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
