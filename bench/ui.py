"""The memory browser's pages at scale: each page's time on the server (its Server-Timing
header) and as the client sees it, through a real `remembrancer ui` process over HTTP, on a
store of synthetic memories built as bench/scale.py builds them, in a SQLite file or (with
`--engine postgres`) a PostgreSQL database on the bench's embedded server (bench/pg.py) or the
server given by `--db`. Prints a Markdown table.

Target (issue 16): every page <= 150 ms on the server at 100k memories.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from latency import pct
from pg import Postgres, postgres
from ports import free_port
from remembrancer.config import Settings
from remembrancer.embeddings import FastEmbedder
from remembrancer.service import MemoryService
from scale_build import SCOPES, TAGS, build, cli_env, load_corpus

TARGET_MS = 150.0


def store(root: Path, size: int, seed: int, embedder: FastEmbedder, pg: Postgres | None) -> str:
    """A kept store of ``size`` memories: a file under ``root``, or the database ui_<size> on
    ``pg`` (built once, marked under ``root``; --keep-dir reuses it)."""
    folder = root / (f"ui-store-{size}" if pg is None else f"ui-postgres-{size}")
    marker = folder / "built"
    target = str(folder / "memory.db") if pg is None else pg.uri_of(f"ui_{size}")
    if marker.exists() and (pg is None or pg.exists(f"ui_{size}")):
        return target
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    if pg is not None:
        target = pg.fresh(f"ui_{size}")
    corpus = load_corpus(embedder, 50, seed, root)
    service = MemoryService.open(Settings(db_path=target), embedder)
    try:
        print(f"building {size:,} memories ...", file=sys.stderr, flush=True)
        settle = None if pg is None else (lambda: pg.settle(f"ui_{size}"))
        build(
            service.store, corpus, size, seed, fast_context=pg is None and size > 100_000, after_chunk=settle
        )
    finally:
        service.close()
    marker.write_text("built")
    return target


def pages(client: httpx.Client, rng: random.Random) -> dict[str, str]:
    """One address per kind of page, the deep ones found by following the list."""
    first = client.get("/ui").text
    ids = re.findall(r'href="/ui/memory/(m_[0-9a-f]+)"', first)
    deep = re.search(r'href="/ui\?[^"]*before=(\d+)"', first)
    assert ids and deep, first[:500]
    return {
        "list, first page": "/ui",
        "list, a page near the oldest (key paging)": f"/ui?before={int(deep.group(1)) // 50}",
        "list, one scope": f"/ui?scope={rng.choice(SCOPES)}",
        "list, one tag": f"/ui?tag={rng.choice(TAGS)}",
        "list, a time range": "/ui?since=2021-06-01&until=2021-06-30",
        "list, superseded (none stored)": "/ui?status=superseded",
        "list, waiting for review (none)": "/ui?status=review",
        "search (hybrid recall, 50 hits)": "/ui?q=what+did+we+decide+about+the+trip",
        "memory page": f"/ui/memory/{ids[0]}",
        "stats": "/ui/stats",
        "login page": "/ui/login",
    }


def measure(url: str, rounds: int, seed: int) -> dict[str, tuple[list[float], list[float]]]:
    parts = urlsplit(url)
    timings: dict[str, tuple[list[float], list[float]]] = {}
    with httpx.Client(base_url=f"{parts.scheme}://{parts.netloc}", timeout=120) as client:
        client.get(f"{parts.path}?{parts.query}", follow_redirects=True)
        addresses = pages(client, random.Random(seed))
        for _ in range(2):  # warm: the vector copy, the page cache
            for address in addresses.values():
                client.get(address)
        for name, address in addresses.items():
            server, wall = [], []
            for _ in range(rounds):
                began = time.perf_counter()
                response = client.get(address)
                wall.append((time.perf_counter() - began) * 1000)
                assert response.status_code == 200, (address, response.status_code, response.text[:300])
                server.append(float(response.headers["server-timing"].split("dur=")[1]))
            timings[name] = (server, wall)
    return timings


def serve_and_measure(db: str, args: argparse.Namespace) -> dict[str, tuple[list[float], list[float]]]:
    """Each page's timings through a `remembrancer ui` process on ``db``."""
    port = free_port()
    script = Path(sys.executable).parent / "remembrancer"
    command = [str(script), "ui", "--db", db, "--port", str(port), "--no-browser"]
    server = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=cli_env(args.keep_dir)
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().decode().strip()
        return measure(url, args.rounds, args.seed)
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=20, help="requests per page (default 20)")
    parser.add_argument("--keep-dir", type=Path, default=Path("/tmp/remembrancer-bench-ui"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--engine", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--db", help="with --engine postgres: an existing server's postgresql:// URI")
    args = parser.parse_args()
    args.keep_dir.mkdir(parents=True, exist_ok=True)
    engine = "PostgreSQL" if args.engine == "postgres" else "SQLite"
    with postgres(args.db, args.keep_dir) if args.engine == "postgres" else nullcontext() as pg:
        db = store(args.keep_dir, args.size, args.seed, FastEmbedder(), pg)
        timings = serve_and_measure(db, args)
    print(f"\n### Memory browser, {args.size:,} memories ({engine}), {args.rounds} requests a page\n")
    print("| page | server p50 / p95 | client p50 | target |")
    print("|---|---:|---:|---|")
    for name, (on_server, at_client) in timings.items():
        median = statistics.median(on_server)
        verdict = "met" if median <= TARGET_MS else "NOT met"
        print(
            f"| {name} | {median:.1f} / {pct(on_server, 95):.1f} ms | {statistics.median(at_client):.1f} ms"
            f" | <= {TARGET_MS:.0f} ms: {verdict} |"
        )
    print(json.dumps({name: statistics.median(s) for name, (s, _) in timings.items()}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
