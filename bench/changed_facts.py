"""Changed facts, rewordings and look-alikes: what deduplication does with a second, related fact.

A hand-labelled set (changed_facts_data.json) of fact pairs, each stored in its own scope through
the real MCP protocol: one `remembrancer serve` over stdio, a fresh temporary store, no LLM key
(so the local fallback judges), `remember` the first fact then the second, then `recall` (limit 5)
each question. Measures:

- changed: the second fact gives a new value of the same thing. Per question, success if the
  memory holding the new fact is among the hits and ranks above the old one (or the old one is
  gone). A "duplicate" status (new fact folded into the old memory) fails; an "updated" one
  counts if the merged memory is among the hits and its text changed.
- reworded: the second fact says the same thing again. Success if kept as one memory
  ("duplicate" or "updated").
- lookalike: two different true facts. Per question, success if the first hit is the memory of
  the fact the question names (and the second was not folded into the first as a "duplicate").

Run: .venv/bin/python bench/changed_facts.py [--verbose] [--json-out FILE]
     .venv/bin/python bench/changed_facts.py --pythonpath /tmp/worktree/server  # older code
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp_types import TextContent

DEFAULT_DATA = Path(__file__).resolve().parent / "changed_facts_data.json"
TARGETS = {"changed": 0.95, "reworded": 0.90, "lookalike": 0.95}
READ_TIMEOUT = 120.0  # the first call waits for the model to load
Json = dict[str, Any]


@dataclass
class Call:
    """A tool's structured answer, or the error that took its place."""

    data: Json | None
    error: str = ""


@dataclass
class Outcome:
    kind: str  # changed / reworded / lookalike
    label: str  # the change kind for "changed", else the same as kind
    index: int
    first: str
    second: str
    status: str
    reason: str
    passed: list[bool] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


async def call(client: Client, tool: str, arguments: Json) -> Call:
    try:
        result = await client.call_tool(tool, arguments)
    except Exception as exc:  # a transport failure must not stop the whole run
        return Call(None, f"{type(exc).__name__}: {exc}")
    text = "\n".join(block.text for block in result.content if isinstance(block, TextContent))
    if result.is_error or not isinstance(result.structured_content, dict):
        return Call(None, text or "tool error without text")
    return Call(result.structured_content)


async def recall_ids(client: Client, query: str, scope: str) -> tuple[list[str], str]:
    answer = await call(client, "recall", {"query": query, "scope": scope, "limit": 5})
    if answer.data is None:
        return [], answer.error
    return [str(hit["id"]) for hit in answer.data.get("hits", [])], ""


async def store_pair(client: Client, outcome: Outcome, scope: str) -> tuple[Json, Json] | None:
    """Remember both facts in order; None (failure recorded) when either call fails."""
    answers = []
    for text in (outcome.first, outcome.second):
        answer = await call(client, "remember", {"content": text, "scope": scope})
        if answer.data is None or not isinstance(answer.data.get("memory"), dict):
            outcome.status, outcome.reason = "error", answer.error or f"no memory in {answer.data}"
            return None
        answers.append(answer.data)
    first, second = answers
    outcome.status, outcome.reason = str(second["status"]), str(second.get("reason", ""))
    if first["status"] != "added":
        outcome.notes.append(f"first remember was {first['status']}")
    return first, second


async def run_changed(client: Client, index: int, item: Json) -> Outcome:
    out = Outcome("changed", item["kind"], index, item["old"], item["new"], "", "")
    stored = await store_pair(client, out, f"cf-changed-{index}")
    for question in item["questions"]:
        if stored is None:
            out.passed.append(False)
            continue
        old_id, new_id = stored[0]["memory"]["id"], stored[1]["memory"]["id"]
        ids, error = await recall_ids(client, question, f"cf-changed-{index}")
        if error or out.status == "duplicate" or new_id not in ids:
            ok = False
        elif new_id == old_id:  # "updated": the old memory now holds the merged text
            ok = stored[1]["memory"]["content"] != item["old"]
        else:
            ok = old_id not in ids or ids.index(new_id) < ids.index(old_id)
        out.passed.append(ok)
        if not ok:
            where = (
                "folded into the old memory"
                if out.status == "duplicate"
                else "new fact not in hits"
                if new_id not in ids
                else "old fact ranked first"
            )
            out.notes.append(f"{question!r}: {error or where} (hits {len(ids)})")
    return out


async def run_reworded(client: Client, index: int, item: Json) -> Outcome:
    out = Outcome("reworded", "reworded", index, item["a"], item["b"], "", "")
    stored = await store_pair(client, out, f"cf-reworded-{index}")
    out.passed.append(stored is not None and out.status in ("duplicate", "updated"))
    return out


async def run_lookalike(client: Client, index: int, item: Json) -> Outcome:
    out = Outcome("lookalike", "lookalike", index, item["a"], item["b"], "", "")
    scope = f"cf-lookalike-{index}"
    stored = await store_pair(client, out, scope)
    asked = [(q, 0) for q in item["questions_a"]] + [(q, 1) for q in item["questions_b"]]
    for question, which in asked:
        if stored is None:
            out.passed.append(False)
            continue
        want = stored[which]["memory"]["id"]
        ids, error = await recall_ids(client, question, scope)
        ok = not error and bool(ids) and ids[0] == want and not (which == 1 and out.status == "duplicate")
        out.passed.append(ok)
        if not ok:
            out.notes.append(f"{question!r} ({'ab'[which]}): {error or 'first hit is not its memory'}")
    return out


def server_params(args: argparse.Namespace, root: Path) -> StdioServerParameters:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "REMEMBRANCER_"))}
    env.pop("PYTHONPATH", None)
    env.update(
        HF_HUB_OFFLINE="1",
        REMEMBRANCER_LOG_LEVEL="WARNING",
        REMEMBRANCER_REVIEW_INTERVAL="0",
        XDG_DATA_HOME=str(root / "xdg"),
    )
    env.update(setting.split("=", 1) for setting in args.setting)
    serve = ["serve", "--db", str(root / "memory.db")]
    if args.pythonpath:
        env["PYTHONPATH"] = str(Path(args.pythonpath).resolve())
        return StdioServerParameters(
            command=sys.executable, args=["-m", "remembrancer", *serve], env=env, cwd=root
        )
    return StdioServerParameters(command=args.server_cmd, args=serve, env=env, cwd=root)


def code_location(args: argparse.Namespace) -> str:
    """Which remembrancer package the server will import (a check that --pythonpath took effect)."""
    if not args.pythonpath:
        return str(args.server_cmd)
    env = {**os.environ, "PYTHONPATH": str(Path(args.pythonpath).resolve())}
    probe = [sys.executable, "-c", "import remembrancer; print(remembrancer.__file__)"]
    done = subprocess.run(
        probe, capture_output=True, text=True, env=env, check=False, cwd=tempfile.gettempdir()
    )
    return done.stdout.strip() or done.stderr.strip()


def not_run(kind: str, index: int, item: Json, error: str) -> Outcome:
    """A failure for every question of an item the server never answered."""
    if kind == "changed":
        out = Outcome(kind, item["kind"], index, item["old"], item["new"], "error", error)
        out.passed = [False] * len(item["questions"])
    else:
        out = Outcome(kind, kind, index, item["a"], item["b"], "error", error)
        out.passed = [False] * (
            1 if kind == "reworded" else len(item["questions_a"]) + len(item["questions_b"])
        )
    return out


async def run_all(args: argparse.Namespace, data: Json, root: Path) -> list[Outcome]:
    runners = {"changed": run_changed, "reworded": run_reworded, "lookalike": run_lookalike}
    done: dict[tuple[str, int], Outcome] = {}
    error = ""
    log = root / "server-stderr.log"
    try:
        with log.open("w") as errlog:
            transport = stdio_client(server_params(args, root), errlog=errlog)
            async with Client(transport, read_timeout_seconds=READ_TIMEOUT) as client:
                for kind, runner in runners.items():
                    for index, item in enumerate(data[kind]):
                        done[kind, index] = await runner(client, index, item)
                    print(f"{kind}: {len(data[kind])} items done", file=sys.stderr, flush=True)
    except Exception as exc:  # the server died or never started: every unanswered item fails
        cause: BaseException = exc
        while isinstance(cause, BaseExceptionGroup) and cause.exceptions:
            cause = cause.exceptions[0]
        error = f"server session failed: {type(cause).__name__}: {cause}"
        tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
        print(f"{error}\n--- server stderr (tail) ---\n{tail}", file=sys.stderr)
    return [
        done.get((kind, index)) or not_run(kind, index, item, error)
        for kind in runners
        for index, item in enumerate(data[kind])
    ]


def rate(values: list[bool]) -> float:
    return sum(values) / len(values) if values else 0.0


def summarise(outcomes: list[Outcome]) -> Json:
    by_kind: dict[str, list[Outcome]] = defaultdict(list)
    by_change: dict[str, list[bool]] = defaultdict(list)
    for out in outcomes:
        by_kind[out.kind].append(out)
        if out.kind == "changed":
            by_change[out.label].extend(out.passed)
    return {
        "rates": {kind: rate([p for o in items for p in o.passed]) for kind, items in by_kind.items()},
        "counts": {kind: sum(len(o.passed) for o in items) for kind, items in by_kind.items()},
        "items": {kind: len(items) for kind, items in by_kind.items()},
        "changed_by_kind": {label: rate(values) for label, values in sorted(by_change.items())},
        "statuses": {kind: dict(Counter(o.status for o in items)) for kind, items in by_kind.items()},
        "lookalike_kept_apart": rate([o.status in ("added", "superseded") for o in by_kind["lookalike"]]),
    }


def report(summary: Json) -> str:
    rates, counts, items = summary["rates"], summary["counts"], summary["items"]
    unit = {"changed": "questions", "reworded": "items", "lookalike": "questions"}
    rows = ["| measure | target | value |", "|---|---|---|"]
    for kind, target in TARGETS.items():
        value = rates.get(kind, 0.0)
        met = "" if value >= target else " **below**"
        rows.append(f"| {kind} ({counts.get(kind, 0)} {unit[kind]}) | >= {target:.2f} | {value:.3f}{met} |")
    for label, value in summary["changed_by_kind"].items():
        rows.append(f"| changed: {label} | — | {value:.3f} |")
    kept = summary["lookalike_kept_apart"]
    rows.append(
        f"| lookalike kept as two live memories ({items.get('lookalike', 0)} items) | — | {kept:.3f} |"
    )
    statuses = [
        "",
        "Status of the second remember:",
        "",
        "| set | added | duplicate | updated | superseded | other |",
    ]
    statuses.append("|---|---:|---:|---:|---:|---:|")
    for kind, counter in summary["statuses"].items():
        known = [counter.get(s, 0) for s in ("added", "duplicate", "updated", "superseded")]
        other = sum(counter.values()) - sum(known)
        statuses.append(f"| {kind} | " + " | ".join(str(n) for n in [*known, other]) + " |")
    return "\n".join(rows + statuses)


def failures(outcomes: list[Outcome]) -> str:
    lines = ["", "Failures:"]
    for out in outcomes:
        if all(out.passed) and out.passed:
            continue
        lines.append(f"- {out.kind}/{out.label} #{out.index} [{out.status}] {out.first!r} -> {out.second!r}")
        lines.append(f"    reason: {out.reason or '(none)'}")
        lines.extend(f"    {note}" for note in out.notes)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--server-cmd", default=str(Path(sys.executable).parent / "remembrancer"))
    parser.add_argument("--pythonpath", help="run `python -m remembrancer` with PYTHONPATH=DIR instead")
    parser.add_argument("--verbose", action="store_true", help="list every failure with its reason")
    parser.add_argument("--json-out", type=Path, help="also write the figures here as JSON")
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an environment variable for the server",
    )
    args = parser.parse_args(argv)
    data: Json = json.loads(args.data.read_text())
    location = code_location(args)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="remembrancer-cf-") as tmp:
        outcomes = asyncio.run(run_all(args, data, Path(tmp)))
    summary = summarise(outcomes)
    print("## Changed facts, rewordings and look-alikes (fallback judge, over MCP stdio)\n")
    sizes = ", ".join(f"{kind} {len(data[kind])}" for kind in TARGETS)
    print(f"code: {location} · items: {sizes} · whole run {time.perf_counter() - began:.0f} s\n")
    print(report(summary))
    if args.verbose:
        print(failures(outcomes))
    if args.json_out:
        args.json_out.write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
