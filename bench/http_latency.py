"""Recall through a real MCP client over streamable HTTP, against `remembrancer serve --transport
http` started from one or more source trees (this checkout by default), side by side in one run.

    .venv/bin/python bench/http_latency.py [--trees PATH ...] [--calls 60] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mcp import Client

from latency import pct
from ports import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[1]


async def recall_ms(tree: Path, calls: int) -> list[float]:
    folder, port = tempfile.mkdtemp(), free_port()
    env = {**os.environ, "PYTHONPATH": str(tree / "server"), "XDG_DATA_HOME": folder, "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "remembrancer", "serve", "--transport", "http", "--no-auth"]
    command += ["--port", str(port), "--db", f"{folder}/memory.db"]
    log = Path(folder) / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, server, log)
        async with Client(f"http://127.0.0.1:{port}/mcp") as client:
            for i in range(20):
                await client.call_tool("remember", {"content": f"Note {i}: the {i}th tomato in the garden"})
            timings = []
            for i in range(calls):
                began = time.perf_counter()
                await client.call_tool("recall", {"query": f"tomato {i}"})
                timings.append((time.perf_counter() - began) * 1000)
            return timings
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trees", type=Path, nargs="+", default=[ROOT])
    parser.add_argument("--calls", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=2, help="each tree this many times, alternating")
    args = parser.parse_args()
    print("| source tree | round | recall p50 / p95 over streamable HTTP |")
    print("|---|---:|---:|")
    for round_number in range(1, args.rounds + 1):
        for tree in args.trees:
            timings = asyncio.run(recall_ms(tree, args.calls))
            print(
                f"| {tree} | {round_number} | {pct(timings, 50):.1f} / {pct(timings, 95):.1f} ms |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
