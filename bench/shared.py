"""Several `remembrancer serve --transport http` processes on ONE store, under a mixed load of
remember and recall from concurrent MCP clients; prints a Markdown table. PostgreSQL (one database,
an embedded server the bench starts, or `--db postgresql://...`) and, for comparison, one SQLite
file.

Per engine: a store is seeded with `remembrancer import` of --seed-count distinct synthetic notes
(the seeding rate is printed), then for 1, 2 and 4 servers (the installed console script, each on a
free port, --no-auth, on loopback) --clients MCP clients over streamable HTTP, spread over the
servers, each call in turn: a recall (--recall-share of calls) or a remember of a fact never told
before, for --seconds. After each run the servers stop and `remembrancer export` reads the store:
a lost write is a remember that answered with a memory (added, duplicate, updated, superseded)
whose memory is not in the export, or does not hold the fact's text (as its content or a sighting).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from mcp import Client

from latency import pct, queries, records, unique_texts
from pg import Postgres, postgres
from ports import free_port, wait_for_port
from remembrancer.config import BUNDLED_MODEL
from remembrancer.models import ExportRecord, RememberResult
from scale import machine_conditions
from scale_build import cli_env

SCRIPT = Path(sys.executable).parent / "remembrancer"
ENGINES = {"postgres": "PostgreSQL", "sqlite": "SQLite"}


@dataclass
class Run:
    engine: str
    servers: int
    clients: int
    seconds: float = 0.0
    ms: dict[str, list[float]] = field(default_factory=lambda: {"recall": [], "remember": []})
    outcomes: Counter[str] = field(default_factory=Counter)
    told: list[tuple[str, str, str]] = field(default_factory=list)  # (fact, status, memory id)
    errors: list[str] = field(default_factory=list)
    lost: int = 0


@contextmanager
def servers(count: int, target: str, root: Path) -> Iterator[list[int]]:
    """``count`` `remembrancer serve --transport http --no-auth` processes on ``target``; their ports."""
    procs: list[tuple[subprocess.Popen[bytes], Path]] = []
    ports = [free_port() for _ in range(count)]
    env = {**cli_env(root), "REMEMBRANCER_LOG_LEVEL": "WARNING"}
    try:
        for port in ports:
            log = root / f"server-{port}.log"
            command = [str(SCRIPT), "serve", "--transport", "http", "--no-auth", "--host", "127.0.0.1"]
            with log.open("wb") as out:
                command += ["--port", str(port), "--db", target]
                procs.append((subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env), log))
        for port, (proc, log) in zip(ports, procs, strict=True):
            wait_for_port(port, proc, log)
        yield ports
        for proc, log in procs:
            if proc.poll() is not None:
                raise RuntimeError(f"a server died during the run:\n{log.read_text()[-3000:]}")
    finally:
        for proc, _ in procs:
            proc.terminate()
        for proc, _ in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def cli(root: Path, *args: str) -> str:
    done = subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, env=cli_env(root), timeout=1800
    )
    if done.returncode != 0:
        raise RuntimeError(f"remembrancer {' '.join(args)} failed: {done.stderr[-3000:]}")
    return done.stdout


def seed(target: str, texts: list[str], root: Path) -> float:
    """`remembrancer import` of the seed notes; memories/s over the whole command."""
    path = root / "seed.jsonl"
    path.write_text("".join(r.model_dump_json() + "\n" for r in records(texts, seed=len(texts))))
    began = time.perf_counter()
    cli(root, "import", str(path), "--db", target)
    return len(texts) / (time.perf_counter() - began)


async def drive(run: Run, ports: list[int], facts: Iterator[str], args: argparse.Namespace) -> None:
    """Every client warms its server up (the model loads on the first call), then all run the
    mixed load for ``args.seconds``, each call after the previous one's answer."""
    asked, rng = queries(args.rng_seed, 1000), random.Random(args.rng_seed + run.servers)
    ready, all_ready, started, deadline = [0], asyncio.Event(), asyncio.Event(), [0.0]

    async def client(number: int) -> None:
        url = f"http://127.0.0.1:{ports[number % len(ports)]}/mcp"
        async with Client(url, read_timeout_seconds=120) as session:
            await session.call_tool("recall", {"query": "warm-up: loads the model", "limit": 5})
            ready[0] += 1
            if ready[0] == run.clients:
                all_ready.set()
            await started.wait()
            while time.perf_counter() < deadline[0]:
                await one_call(session)

    async def one_call(session: Client) -> None:
        remember = rng.random() >= args.recall_share
        fact = next(facts) if remember else ""
        tool, arguments = (
            ("remember", {"content": fact}) if remember else ("recall", {"query": rng.choice(asked)})
        )
        began = time.perf_counter()
        try:
            result = await session.call_tool(tool, arguments)
        except Exception as exc:  # a transport failure counts as an error; the run goes on
            run.errors.append(f"{tool}: {type(exc).__name__}: {exc}")
            return
        spent = (time.perf_counter() - began) * 1000
        if result.is_error or not isinstance(result.structured_content, dict):
            run.errors.append(f"{tool}: {result.content}")
            return
        run.ms[tool].append(spent)
        if remember:
            answer = RememberResult.model_validate(result.structured_content)
            run.outcomes[answer.status] += 1
            if answer.memory is not None:
                run.told.append((fact, answer.status, answer.memory.id))

    async with asyncio.TaskGroup() as group:
        for number in range(run.clients):
            group.create_task(client(number))
        await all_ready.wait()
        began = time.perf_counter()
        deadline[0] = began + args.seconds
        started.set()
    run.seconds = time.perf_counter() - began


def lost_writes(run: Run, target: str, root: Path) -> int:
    """Remembers that answered with a memory the store does not hold (or not with the fact)."""
    path = root / f"export-{run.engine}-{run.servers}.jsonl"
    cli(root, "export", str(path), "--db", target, "--force")
    stored = {
        r.id: r for r in (ExportRecord.model_validate_json(line) for line in path.open() if line.strip())
    }
    lost = 0
    for fact, _status, memory_id in run.told:
        record = stored.get(memory_id)
        texts = set() if record is None else {record.content, *(s.content for s in record.sightings)}
        identical = record is not None and any(s.content is None for s in record.sightings)
        lost += not (fact in texts or identical)
    return lost


def table(runs: list[Run]) -> list[str]:
    lines = [
        "| engine | servers | clients | calls (recall / remember) | calls/s | remember p50 / p95 |"
        " recall p50 / p95 | remember outcomes | errors | lost writes |",
        "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]

    def ms(values: list[float]) -> str:
        return f"{pct(values, 50):.0f} / {pct(values, 95):.0f} ms" if values else "—"

    for r in runs:
        calls = len(r.ms["recall"]) + len(r.ms["remember"])
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(r.outcomes.items())) or "—"
        lines.append(
            f"| {ENGINES[r.engine]} | {r.servers} | {r.clients}"
            f" | {len(r.ms['recall'])} / {len(r.ms['remember'])}"
            f" | {calls / r.seconds:.1f} | {ms(r.ms['remember'])} | {ms(r.ms['recall'])} | {outcomes}"
            f" | {len(r.errors)} | {r.lost} |"
        )
    return lines


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Several servers on one store; prints a Markdown table.")
    parser.add_argument("--engines", nargs="+", choices=list(ENGINES), default=list(ENGINES))
    parser.add_argument("--db", help="an existing PostgreSQL server's postgresql:// URI (see bench/pg.py)")
    parser.add_argument("--servers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--clients", type=int, default=4, help="concurrent MCP clients (default 4)")
    parser.add_argument("--seconds", type=float, default=20.0, help="mixed load per run (default 20)")
    parser.add_argument("--recall-share", type=float, default=0.8, help="share of calls that recall")
    parser.add_argument("--seed-count", type=int, default=2000, help="memories imported before the runs")
    parser.add_argument("--rng-seed", type=int, default=11)
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    began, load_before = time.perf_counter(), os.getloadavg()
    root = Path(tempfile.mkdtemp(prefix="remembrancer-shared-"))
    pool = unique_texts(seed=args.rng_seed, count=args.seed_count + 20_000)
    seeded, facts = pool[: args.seed_count], iter(pool[args.seed_count :])  # every fact told once
    runs, rates, described = list[Run](), dict[str, float](), ""
    server = postgres(args.db) if "postgres" in args.engines else nullcontext(None)
    try:
        with server as pg:
            for engine in args.engines:
                target = str(root / "shared.db") if engine == "sqlite" else fresh(pg, "shared_bench")
                print(f"{engine}: seeding {args.seed_count:,} memories ...", file=sys.stderr, flush=True)
                rates[engine] = seed(target, seeded, root)
                for count in args.servers:
                    run = Run(engine, count, args.clients)
                    print(
                        f"{engine}: {count} server(s), {args.clients} clients ...",
                        file=sys.stderr,
                        flush=True,
                    )
                    with servers(count, target, root) as ports:
                        asyncio.run(drive(run, ports, facts, args))
                    run.lost = lost_writes(run, target, root)
                    runs.append(run)
                    for error in run.errors[:3]:
                        print(f"  error: {error[:300]}", file=sys.stderr)
                if pg is not None and engine == "postgres":
                    described = f" · {pg.describe()}"
                    pg.drop("shared_bench")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"## Servers sharing one store ({BUNDLED_MODEL}; MCP over streamable HTTP, no LLM)\n")
    print(
        f"{machine_conditions(load_before)} · {args.clients} clients, {args.recall_share:.0%} recall,"
        f" {args.seconds:g} s per run, store seeded with {args.seed_count:,} notes · whole run"
        f" {time.perf_counter() - began:.0f} s{described}\n"
    )
    print("\n".join(table(runs)))
    seeding = "; ".join(f"{ENGINES[e]} {rate:,.0f}/s" for e, rate in rates.items())
    print(f"\nSeeding through `remembrancer import` (whole command, model load included): {seeding}.")
    return 0


def fresh(pg: Postgres | None, name: str) -> str:
    assert pg is not None
    return pg.fresh(name)


if __name__ == "__main__":
    sys.exit(main())
