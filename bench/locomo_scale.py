"""Recall quality on LoCoMo inside a large store: the shipped approximate search against exact search.

Two approximations only kick in at size: above ``vector_index.COMPACT_ABOVE`` memories the vector
copy is sign bits + int8 (a Hamming first pass keeps ``CANDIDATES`` rows per scope, int8 rerank),
and the full-text query leaves out its commonest words when their matches in the queried scopes
would exceed ``text_index.POSTINGS_BUDGET``. Each size gets a store of N distractor memories spread
over the scopes the LoCoMo dev conversations use (one scope per conversation, as bench/locomo.py
stores them), each a STS-B train sentence with varied words around it and its vector plus noise
(cosine ~0.9), dated 2015-2021 so no sitting joins a distractor to a LoCoMo turn (2022-2024).
No LoCoMo text goes into a distractor, not even a speaker's name (bench/scale.py's names hold
"Maria", a LoCoMo speaker: left out here). The distractors are written once with ``Store.insert`` into
``<keep-dir>/distractors-N.db``; every run copies that file, ingests the conversations through
``MemoryService.remember`` (dedup on, against the distractors too; no LLM) and asks every question
through ``recall``, scored by bench/locomo.py.

Configurations: ``shipped`` (defaults), ``exact`` (float32 brute force and no common-word pruning),
``exact-vectors`` and ``exact-text`` (only one side exact). The patches hold through ingest too, so
deduplication sees the same vector search as recall. Size 0 (no distractors, shipped) is the
reference.

Run: .venv/bin/python bench/locomo_scale.py [--sizes 100000 1000000] [--keep-dir DIR]
     [--conversations K] [--configs shipped exact exact-vectors exact-text]
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import numpy as np

from latency import PEOPLE, PLACES
from locomo import DEFAULT_DATA, KS, Question, Scores, Turn, evaluate, ingest, load
from remembrancer import transfer
from remembrancer import validation as check
from remembrancer.config import BUNDLED_MODEL, Settings
from remembrancer.embeddings import FastEmbedder
from remembrancer.service import MemoryService
from remembrancer.storage.rows import NewMemory
from remembrancer.storage.sqlite import text_index, vector_index
from remembrancer.storage.sqlite.store import sqlite_store
from scale import machine_conditions
from scale_build import TAGS, SittingTracker

STS = DEFAULT_DATA.parents[1] / "stsbenchmark" / "sts-train.csv"
CONFIGS = {  # name: (exact vectors, exact full text)
    "shipped": (False, False),
    "exact": (True, True),
    "exact-vectors": (True, False),
    "exact-text": (False, True),
}
HUGE = 10**15
COSINE_TO_BASE, CHUNK = 0.9, 5_000
SPAN_START, SPAN_END = datetime(2015, 1, 1, tzinfo=UTC), datetime(2021, 12, 1, tzinfo=UTC)
SITTING, TURN_SECONDS = 30, 45  # distractors come in sittings of 30 memories, 45 s apart, in one scope
FAST_CONTEXT_ABOVE = 100_000


def sts_sentences() -> list[str]:
    texts: dict[str, None] = {}
    for line in STS.read_text(encoding="utf-8").splitlines():
        cells = line.split("\t")  # no csv quoting: sentences hold stray quotes
        if len(cells) >= 7:
            for cell in (cells[5].strip(), cells[6].strip()):
                if cell and cell.isprintable():
                    texts[cell] = None
    return list(texts)


def sts_vectors(embedder: FastEmbedder, texts: list[str], cache: Path) -> np.ndarray:
    digest = hashlib.sha256("\n".join([embedder.name, *texts]).encode()).hexdigest()[:12]
    cached = cache / f"sts-vectors-{digest}.npy"
    if cached.exists():
        return np.asarray(np.load(cached), dtype=np.float32)
    print(f"embedding {len(texts):,} STS-B sentences ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    vectors = np.asarray(embedder.embed(texts), dtype=np.float32)
    print(f"  done in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    np.save(cached, vectors)
    return vectors


def synth_text(base: str, i: int, people: list[str], rng: random.Random) -> str:
    """bench/scale.py's synth_text, with names that are no LoCoMo speaker's."""
    who, where = rng.choice(people), rng.choice(PLACES)
    forms: tuple[str, ...] = (f"{base} ({who}, {where}, #{i})", f"{who} noted {where}: {base} [ref {i}]")
    forms += (f"{base} Logged {where} by {who}, item {i}.", f"Note {i}, {rng.choice(TAGS)}: {base}")
    return forms[i % 4]


def remove_db(path: Path) -> None:
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        name.unlink(missing_ok=True)


def build_distractors(
    path: Path,
    embedder: FastEmbedder,
    texts: list[str],
    vectors: np.ndarray,
    size: int,
    scopes: list[str],
    speakers: set[str],
    seed: int,
) -> float:
    """Write ``size`` distractors into a new store at ``path``; seconds spent."""
    building = path.with_name(f"{path.name}.building")
    remove_db(building)
    rng, words, dim = np.random.default_rng(seed), random.Random(seed), vectors.shape[1]
    sigma = float(np.sqrt((1 / COSINE_TO_BASE**2 - 1) / dim))
    sittings = math.ceil(size / SITTING)
    step = (SPAN_END - SPAN_START).total_seconds() / sittings  # between the starts of two sittings
    assert step > SITTING * TURN_SECONDS + text_index.SITTING_SECONDS, "too many distractors for the span"
    people = [name for name in PEOPLE if not set(name.split()) & speakers]  # "Maria" is one
    tracker = SittingTracker()

    service = MemoryService.open(Settings(db_path=building), embedder)
    store, began = sqlite_store(service.store), time.perf_counter()
    fast = size > FAST_CONTEXT_ABOVE
    print(f"building {size:,} distractors ({'bench' if fast else 'server'} context lookup)", file=sys.stderr)
    try:
        with ExitStack() as stack:
            if fast:
                stack.enter_context(mock.patch.object(text_index, "previous_in_sitting", tracker.previous))
            scope = scopes[0]
            for start in range(0, size, CHUNK):
                count = min(CHUNK, size - start)
                picks = rng.integers(0, len(texts), count)
                noisy = vectors[picks] + rng.normal(0.0, sigma, (count, dim)).astype(np.float32)
                noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
                with store.transaction():
                    for j, i in enumerate(range(start, start + count)):
                        if i % SITTING == 0:
                            scope = words.choice(scopes)
                        offset = (i // SITTING) * step + (i % SITTING) * TURN_SECONDS
                        at = check.timestamp(SPAN_START + timedelta(seconds=offset))
                        text = synth_text(texts[picks[j]], i, people, words)
                        tags = words.sample(TAGS, words.randrange(3))
                        memory = NewMemory(
                            transfer.new_id(), text, check.content_hash(text), scope, tags, {}, at, at
                        )
                        rowid = store.insert(memory, noisy[j].tobytes(), actor="bench").rowid
                        tracker.last[scope] = (rowid, text, at)
                if (start // CHUNK) % 20 == 19 or start + count == size:
                    rate = (start + count) / (time.perf_counter() - began)
                    print(f"  {start + count:,} ({rate:,.0f}/s)", file=sys.stderr, flush=True)
        tracker.agrees_with_server(store.conn)
        store.checkpoint()
    finally:
        service.close()
    wal = Path(f"{building}-wal")
    assert not wal.exists() or wal.stat().st_size == 0, "checkpointed: the main file holds everything"
    for stale in (Path(f"{path}-wal"), Path(f"{path}-shm")):  # a reader's leftovers must not join it
        stale.unlink(missing_ok=True)
    os.replace(building, path)
    remove_db(building)  # an empty -wal or -shm, if any
    return time.perf_counter() - began


@contextmanager
def configured(config: str) -> Iterator[None]:
    exact_vectors, exact_text = CONFIGS[config]
    with ExitStack() as stack:
        if exact_vectors:
            stack.enter_context(mock.patch.object(vector_index, "COMPACT_ABOVE", HUGE))
        if exact_text:
            stack.enter_context(mock.patch.object(text_index, "POSTINGS_BUDGET", HUGE))
        yield


@dataclass
class Run:
    size: int
    config: str
    scores: Scores
    by_category: dict[int, Scores]
    memories: int
    compact: bool
    folded_into_distractors: int
    ingest_rate: float
    seconds: float

    def r(self, k: int) -> float:
        return statistics.fmean(self.scores.recall[k])


def run(
    size: int,
    config: str,
    source: Path | None,
    work: Path,
    embedder: FastEmbedder,
    turns: list[Turn],
    questions: list[Question],
) -> Run:
    began = time.perf_counter()
    db = work / f"run-{size}-{config}.db"
    remove_db(db)
    if source is not None:
        wal = Path(f"{source}-wal")
        assert not wal.exists() or wal.stat().st_size == 0, f"{wal} holds writes the copy would miss"
        shutil.copy(source, db)
    print(f"N={size:,} {config}: ingesting {len(turns):,} turns ...", file=sys.stderr, flush=True)
    try:
        with configured(config):
            service = MemoryService.open(Settings(db_path=db), embedder)
            try:
                rate = ingest(service, turns)
                index = sqlite_store(service.store).vectors
                compact = bool(index is not None and index.compact)
                print(f"  asking {len(questions)} questions ...", file=sys.stderr, flush=True)
                overall, by_category = evaluate(service, questions, "hybrid")
                memories = service.stats().memories
                with sqlite_store(service.store).lock:  # LoCoMo turns that remember folded into a distractor
                    folded = (
                        sqlite_store(service.store)
                        .conn.execute(
                            "select count(*) from sightings s join memories m on m.rowid = s.memory_rowid"
                            " where json_extract(m.metadata, '$.turn') is null"
                        )
                        .fetchone()[0]
                    )
            finally:
                service.close()
    finally:
        remove_db(db)
    result = Run(
        size, config, overall, by_category, memories, compact, int(folded), rate, time.perf_counter() - began
    )
    print(
        f"  R@10 {result.r(10):.3f}, MRR {statistics.fmean(overall.reciprocal_ranks):.3f}"
        f" ({result.seconds:.0f} s)",
        file=sys.stderr,
        flush=True,
    )
    return result


def table(runs: list[Run]) -> list[str]:
    lines = [
        "| distractors | config | vectors | memories | turns folded into distractors"
        " | R@1 | R@5 | R@10 | R@20 | MRR | recall p50 ms |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        cells = " | ".join(f"{r.r(k):.3f}" for k in KS)
        lines.append(
            f"| {r.size:,} | {r.config} | {'sign bits + int8' if r.compact else 'float32'} | {r.memories:,}"
            f" | {r.folded_into_distractors} | {cells} | {statistics.fmean(r.scores.reciprocal_ranks):.3f}"
            f" | {statistics.median(r.scores.latencies_ms):.1f} |"
        )
    lines += [
        "",
        "| distractors | R@10 shipped | R@10 exact | shipped - exact | within 0.01 |",
        "|---:|---:|---:|---:|:-:|",
    ]
    by_key = {(r.size, r.config): r for r in runs}
    for size in sorted({r.size for r in runs}):
        shipped, exact = by_key.get((size, "shipped")), by_key.get((size, "exact"))
        if shipped is None or exact is None:
            continue
        gap = shipped.r(10) - exact.r(10)
        lines.append(
            f"| {size:,} | {shipped.r(10):.3f} | {exact.r(10):.3f} | {gap:+.3f}"
            f" | {'yes' if gap >= -0.01 else '**NO**'} |"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description="LoCoMo recall quality inside a large store; Markdown.")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000], help="distractor counts")
    parser.add_argument("--configs", nargs="+", default=["shipped", "exact"], choices=list(CONFIGS))
    parser.add_argument("--conversations", type=int, help="only the first K conversations (smoke runs)")
    parser.add_argument("--keep-dir", type=Path, help="keep the embedded STS-B vectors and distractor stores")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    if not args.data.exists() or not STS.exists():
        print(f"data not found ({args.data}, {STS})", file=sys.stderr)
        return 2
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    began, load_before = time.perf_counter(), os.getloadavg()

    turns, questions = load(args.data)
    scopes = list(dict.fromkeys(turn.scope for turn in turns))  # distractors go into all of them
    speakers = {turn.text.split(":", 1)[0] for turn in turns}
    if args.conversations:
        chosen = set(scopes[: args.conversations])
        turns = [turn for turn in turns if turn.scope in chosen]
        questions = [question for question in questions if question.scope in chosen]
    embedder = FastEmbedder()
    root = args.keep_dir or Path(tempfile.mkdtemp(prefix="remembrancer-locomo-scale-"))
    root.mkdir(parents=True, exist_ok=True)
    runs: list[Run] = []
    builds: dict[int, float] = {}
    try:
        texts = sts_sentences()
        vectors = sts_vectors(embedder, texts, root)
        runs.append(run(0, "shipped", None, root, embedder, turns, questions))
        for size in sorted(set(args.sizes)):
            source = root / f"distractors-{size}-{embedder.name}.db"
            if not source.exists():
                builds[size] = build_distractors(
                    source, embedder, texts, vectors, size, scopes, speakers, args.seed + size
                )
            runs += [run(size, config, source, root, embedder, turns, questions) for config in args.configs]
    finally:
        if args.keep_dir is None:
            shutil.rmtree(root, ignore_errors=True)

    print(f"\n## LoCoMo recall inside a large store ({args.data.name}, {BUNDLED_MODEL}, hybrid)\n")
    print(
        f"{machine_conditions(load_before)} · {len(scopes)} scopes hold the distractors"
        f" ({len(texts):,} STS-B train sentences as bases) · "
        f"{len(turns):,} turns, {len(questions)} questions · whole run {time.perf_counter() - began:.0f} s\n"
    )
    for size, seconds in builds.items():
        print(f"- built {size:,} distractors in {seconds:.0f} s ({size / seconds:,.0f}/s)")
    for r in runs:
        print(f"- N={r.size:,} {r.config}: ingest {r.ingest_rate:.0f} turns/s, whole run {r.seconds:.0f} s")
    print()
    print("\n".join(table(runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
