"""Recall quality on LoCoMo: turn-level evidence recall@k and MRR, through the service's own paths.

Each conversation goes into its own scope through ``MemoryService.remember`` (deduplication on,
no LLM), one memory per dialogue turn, its session's date as event time (occurred_at), carrying its turn id.
Every category 1-4 question is asked through ``recall`` (no LLM at query time).

Run: .venv/bin/python bench/locomo.py [--data PATH] [--twice] [--modes hybrid vector text]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mcp import Client

import absent
from latency import server_params
from remembrancer.config import Settings
from remembrancer.embeddings import FastEmbedder
from remembrancer.retrieval import RetrievalMode
from remembrancer.service import MemoryService
from remembrancer.statements import read
from remembrancer.tokens import count_tokens
from remembrancer.tool_text import recall_text

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "locomo" / "locomo10-dev.json"
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
KS = (1, 5, 10, 20)
#: Token budgets for "evidence within a budget": what a recall's text output (tool_text, as an
#: MCP client receives it) holds when ``max_tokens`` caps it.
BUDGETS = (400, 800)
BUDGET_LIMIT = 50
MODES: tuple[RetrievalMode, ...] = ("hybrid", "vector", "text")
_EVIDENCE = re.compile(r"D:?(\d+):0*(\d+)")


@dataclass(frozen=True)
class Turn:
    scope: str
    turn_id: str
    text: str
    at: datetime


@dataclass(frozen=True)
class Question:
    scope: str
    text: str
    category: int
    evidence: frozenset[str]


def normalise_evidence(raw: list[str]) -> frozenset[str]:
    """Turn ids as D<session>:<turn>, mending the malformed ones ("D8:6; D9:17", "D:11:26", "D30:05")."""
    return frozenset(f"D{s}:{t}" for item in raw for s, t in _EVIDENCE.findall(item))


def session_time(text: str) -> datetime:
    return datetime.strptime(text.strip(), "%I:%M %p on %d %B, %Y").replace(tzinfo=UTC)


def load(path: Path) -> tuple[list[Turn], list[Question]]:
    turns: list[Turn] = []
    questions: list[Question] = []
    for conversation in json.loads(path.read_text()):
        scope, sessions = conversation["sample_id"], conversation["conversation"]
        for key in sorted((k for k in sessions if re.fullmatch(r"session_\d+", k)), key=lambda k: int(k[8:])):
            at = session_time(sessions[f"{key}_date_time"])
            for turn in sessions[key]:
                text = f"{turn['speaker']}: {turn['text']}"
                if turn.get("blip_caption"):
                    text += f" [shares a photo of {turn['blip_caption']}]"
                turns.append(Turn(scope, str(turn["dia_id"]), text, at))
        for qa in conversation["qa"]:
            evidence = normalise_evidence(qa.get("evidence", []))
            if qa["category"] in CATEGORIES and evidence:
                questions.append(Question(scope, str(qa["question"]), int(qa["category"]), evidence))
    return turns, questions


def ingest(service: MemoryService, turns: list[Turn], *, event_time: bool = True) -> float:
    """Each turn through remember, with its session's date as event time (or, without
    ``event_time``, as a conversation pasted in today would be: no dates)."""
    started = time.perf_counter()
    for turn in turns:
        when = turn.at if event_time else None
        service.remember(turn.text, metadata={"turn": turn.turn_id}, scope=turn.scope, occurred_at=when)
    return len(turns) / (time.perf_counter() - started)


def turn_sources(service: MemoryService) -> dict[str, set[str]]:
    """Every turn a memory holds: its own, and those deduplication folded into it."""
    sources: dict[str, set[str]] = defaultdict(set)
    for record in service.export():
        for metadata in [record.metadata, *(s.metadata for s in record.sightings)]:
            if "turn" in metadata:
                sources[record.id].add(str(metadata["turn"]))
    return sources


@dataclass(frozen=True)
class FoldAudit:
    folds: int  # turns kept only as a sighting of another memory (near duplicates, not identical)
    cross_speaker: int  # ... whose speaker differs from the memory's
    dropped_value: int  # ... holding a number or name the memory lacks
    links: int  # memories stored beside an older one whose value they changed
    examples: list[str]


def audit_folds(service: MemoryService) -> FoldAudit:
    """What deduplication folded: a fold may only drop a wording, never a speaker, number or name."""
    folds = cross = dropped = links = 0
    examples: list[str] = []
    for record in service.export():
        links += len(record.replaces)
        kept = {word.norm for word in read(record.content).words}
        for sighting in record.sightings:
            if sighting.content is None:
                continue
            folds += 1
            speaker_changed = sighting.content.split(":", 1)[0] != record.content.split(":", 1)[0]
            lost = {w.norm for w in read(sighting.content).words if w.kind == "value"} - kept
            cross += speaker_changed
            dropped += bool(lost)
            if (speaker_changed or lost) and len(examples) < 5:
                examples.append(f"{sighting.content!r} folded into {record.content!r}")
    return FoldAudit(folds, cross, dropped, links, examples)


@dataclass
class Scores:
    recall: dict[int, list[float]]
    reciprocal_ranks: list[float]
    latencies_ms: list[float]
    within: dict[int, list[float]]  # evidence recall within each token budget
    over_budget: int = 0  # budgeted recalls whose text came out longer than the budget

    @classmethod
    def empty(cls) -> Scores:
        return cls({k: [] for k in KS}, [], [], {b: [] for b in BUDGETS})

    def add(self, ranked_turns: list[set[str]], evidence: frozenset[str]) -> None:
        for k in KS:
            found = set().union(*ranked_turns[:k]) if ranked_turns[:k] else set()
            self.recall[k].append(len(evidence & found) / len(evidence))
        rank = next((i for i, turns in enumerate(ranked_turns, 1) if turns & evidence), None)
        self.reciprocal_ranks.append(0.0 if rank is None else 1.0 / rank)

    def add_budgeted(self, budget: int, turns: list[set[str]], evidence: frozenset[str]) -> None:
        found = set().union(*turns) if turns else set()
        self.within[budget].append(len(evidence & found) / len(evidence))

    def row(self, label: str) -> str:
        cells = [f"{statistics.fmean(self.recall[k]):.3f}" for k in KS]
        cells += [f"{statistics.fmean(self.within[b]):.3f}" if self.within[b] else "—" for b in BUDGETS]
        return (
            f"| {label} | {len(self.reciprocal_ranks)} | "
            + " | ".join(cells)
            + f" | {statistics.fmean(self.reciprocal_ranks):.3f} |"
        )


def evaluate(
    service: MemoryService, questions: list[Question], mode: RetrievalMode
) -> tuple[Scores, dict[int, Scores]]:
    sources = turn_sources(service)
    overall, by_category = Scores.empty(), {c: Scores.empty() for c in CATEGORIES}
    for question in questions:
        started = time.perf_counter()
        hits = service.recall(question.text, limit=max(KS), scope=question.scope, mode=mode).hits
        overall.latencies_ms.append((time.perf_counter() - started) * 1000)
        ranked = [sources.get(hit.id, set()) for hit in hits]
        overall.add(ranked, question.evidence)
        by_category[question.category].add(ranked, question.evidence)
        if mode != "hybrid":
            continue
        for budget in BUDGETS:
            result = service.recall(question.text, BUDGET_LIMIT, scope=question.scope, max_tokens=budget)
            overall.over_budget += count_tokens(recall_text(result)) > budget
            turns = [sources.get(hit.id, set()) for hit in result.hits]
            for scores in (overall, by_category[question.category]):
                scores.add_budgeted(budget, turns, question.evidence)
    return overall, by_category


async def mcp_recall_ms(db: Path | str, questions: list[Question], calls: int) -> list[float]:
    """Recall (limit 5) of the first ``calls`` questions through an MCP client over stdio."""
    timings: list[float] = []
    async with Client(server_params(db)) as client:
        for i, question in enumerate([questions[0], *questions[:calls]]):
            started = time.perf_counter()
            answer = await client.call_tool("recall", {"query": question.text, "scope": question.scope})
            if i:  # the first waits for the model to load
                timings.append((time.perf_counter() - started) * 1000)
            if answer.is_error:
                raise RuntimeError(f"recall over MCP failed: {answer.content}")
    return timings


def results_over(results: dict[RetrievalMode, tuple[Scores, dict[int, Scores]]]) -> int:
    return sum(overall.over_budget for overall, _ in results.values())


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--modes", nargs="+", default=["hybrid", "vector", "text"], choices=MODES)
    parser.add_argument("--twice", action="store_true", help="ingest again and check nothing changes")
    parser.add_argument(
        "--db",
        help="keep the store here (a file, or an empty postgresql:// database) instead of a temporary file",
    )
    parser.add_argument(
        "--no-absent", action="store_true", help="skip the questions about things never stored"
    )
    parser.add_argument("--min-score", type=float, help="relevance floor (default: the server's)")
    parser.add_argument("--no-event-time", action="store_true", help="store the turns without session dates")
    parser.add_argument(
        "--mcp-calls", type=int, default=300, help="questions to time through MCP over stdio (0: none)"
    )
    args = parser.parse_args(argv)
    if not args.data.exists():
        print(f"LoCoMo data not found at {args.data}; pass --data PATH", file=sys.stderr)
        return 2

    turns, questions = load(args.data)
    embedder = FastEmbedder()
    with tempfile.TemporaryDirectory() as folder:
        db: Path | str = args.db or Path(folder) / "locomo.db"
        settings = (
            Settings(db_path=db) if args.min_score is None else Settings(db_path=db, min_score=args.min_score)
        )
        service = MemoryService.open(settings, embedder)
        rate = ingest(service, turns, event_time=not args.no_event_time)
        stored = service.stats().memories
        audit = audit_folds(service)
        results = {mode: evaluate(service, questions, mode) for mode in args.modes}
        nothing_stored = absent.measure(service, embedder, settings.min_score) if not args.no_absent else None
        if args.twice:
            ingest(service, turns)
            again = evaluate(service, questions, args.modes[0])[0]
            first = results[args.modes[0]][0]
            same = all(statistics.fmean(again.recall[k]) == statistics.fmean(first.recall[k]) for k in KS)
            print(
                f"second ingest: {service.stats().memories} memories (first: {stored});"
                f" scores unchanged: {same}"
            )
        service.close()
        over_mcp = asyncio.run(mcp_recall_ms(db, questions, args.mcp_calls)) if args.mcp_calls else []

    print(f"\n## LoCoMo turn-level evidence recall ({args.data.name}, {embedder.name})\n")
    print(
        f"{len(turns)} turns -> {stored} memories; {len(questions)} questions (categories 1-4); "
        f"ingest {rate:.0f} turns/s through remember\n"
    )
    print(
        f"deduplication: {audit.folds} turns folded into another memory as a sighting, "
        f"{audit.cross_speaker} of them across speakers, {audit.dropped_value} dropping a number or name; "
        f"{audit.links} memories stored as a changed value of an older one\n"
    )
    for example in audit.examples:
        print(f"- {example}")
    within = " | ".join(f"in {b} tokens" for b in BUDGETS)
    print(f"| method | questions | R@1 | R@5 | R@10 | R@20 | {within} | MRR |")
    print("|---|---:|" + "---:|" * (len(KS) + len(BUDGETS) + 1))
    for mode, (overall, by_category) in results.items():
        print(overall.row(mode))
        for category, scores in by_category.items():
            print(scores.row(f"{mode}: {CATEGORIES[category]}"))
    print()
    if nothing_stored:
        print(absent.table(nothing_stored) + "\n")
    print(
        "'in N tokens': evidence recall of a recall whose text output (one line a hit and the notes,"
        f" as MCP clients receive it) is capped by max_tokens=N; {results_over(results)} such"
        " outputs came out longer than their budget\n"
    )
    for mode, (overall, _) in results.items():
        lat = overall.latencies_ms
        print(
            f"recall latency ({mode}, limit 20):"
            f" p50 {statistics.median(lat):.1f} ms, p95 {percentile(lat, 0.95):.1f} ms"
        )
    if over_mcp:
        print(
            f"recall latency (limit 5, MCP client over stdio, {len(over_mcp)} questions):"
            f" p50 {statistics.median(over_mcp):.1f} ms, p95 {percentile(over_mcp, 0.95):.1f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
