"""Questions about things never stored (bench/absent_topics.json): how many hits recall returns.

The set is hand-written: questions for each LoCoMo dev conversation whose topic never comes up in
it (about half name its speakers), and questions beside a small store of personal facts that
those facts do not answer (about half near misses). With a working relevance floor the median
number of hits is 0. The other side, on the same personal store: answerable questions
(bench/personal_answerable.json, two a fact, one of them a paraphrase), and the share whose fact
the recall returns at the floor and with none. A second personal store (bench/personal_set_2.json,
written by someone who saw neither the code nor the first set) is measured the same way, its
never-stored questions half near misses. ``bench/locomo.py`` runs this on its LoCoMo store.
"""

from __future__ import annotations

import json
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path

from remembrancer.config import Settings
from remembrancer.embeddings import FastEmbedder
from remembrancer.service import MemoryService

QUESTIONS = Path(__file__).resolve().parent / "absent_topics.json"
ANSWERABLE = Path(__file__).resolve().parent / "personal_answerable.json"
#: A second personal store with its own answerable and never-stored questions, written by someone
#: who saw neither the code nor the first set.
SECOND_SET = Path(__file__).resolve().parent / "personal_set_2.json"


@dataclass(frozen=True)
class AbsentResult:
    group: str
    questions: int
    median_hits: float
    mean_hits: float
    none_share: float  # questions answered with no hit at all

    def row(self) -> str:
        return (
            f"| {self.group} | {self.questions} | {self.median_hits:g} | {self.mean_hits:.2f} |"
            f" {self.none_share:.2f} |"
        )


def _result(group: str, counts: list[int]) -> AbsentResult:
    return AbsentResult(
        group,
        len(counts),
        statistics.median(counts),
        statistics.fmean(counts),
        sum(count == 0 for count in counts) / len(counts),
    )


@dataclass(frozen=True)
class Answered:
    """Answerable questions on the personal store: the share whose fact is among the hits."""

    questions: int
    found: float  # at the floor
    found_without_floor: float
    others: float  # mean hits besides the fact asked about, at the floor


@dataclass(frozen=True)
class Measured:
    absent: list[AbsentResult]
    answered: Answered
    second_answered: Answered


def hits_per_question(service: MemoryService, questions: list[tuple[str, str]], limit: int) -> list[int]:
    return [len(service.recall(text, limit=limit, scope=scope).hits) for scope, text in questions]


def share_found(
    service: MemoryService,
    facts: list[str],
    questions: list[tuple[str, int]],
    limit: int,
    min_score: float | None,
) -> tuple[float, float]:
    """The share of questions whose fact is among the hits, and the mean number of other hits."""
    found, others = [], []
    for text, fact in questions:
        hits = [hit.content for hit in service.recall(text, limit=limit, min_score=min_score).hits]
        found.append(facts[fact] in hits)
        others.append(sum(hit != facts[fact] for hit in hits))
    return sum(found) / len(found), statistics.fmean(others)


def _personal_store(
    folder: str, name: str, embedder: FastEmbedder, min_score: float, facts: list[str]
) -> MemoryService:
    service = MemoryService.open(Settings(db_path=Path(folder) / name, min_score=min_score), embedder)
    for fact in facts:
        service.remember(fact)
    return service


def _answered(
    service: MemoryService, facts: list[str], questions: list[tuple[str, int]], limit: int
) -> Answered:
    (found, others), (found_without_floor, _) = (
        share_found(service, facts, questions, limit, floor) for floor in (None, 0)
    )
    return Answered(len(questions), found, found_without_floor, others)


def measure(locomo: MemoryService, embedder: FastEmbedder, min_score: float, limit: int = 5) -> Measured:
    """Absent-topic questions on the LoCoMo store given, and on a personal store built here, where
    answerable questions are asked too."""
    data = json.loads(QUESTIONS.read_text(encoding="utf-8"))
    on_locomo = [(scope, text) for scope, texts in data["locomo_questions"].items() for text in texts]
    locomo_counts = hits_per_question(locomo, on_locomo, limit)
    second = json.loads(SECOND_SET.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as folder:
        personal = _personal_store(folder, "personal.db", embedder, min_score, data["personal_facts"])
        try:
            personal_counts = hits_per_question(
                personal, [("default", text) for text in data["personal_questions"]], limit
            )
            answerable = json.loads(ANSWERABLE.read_text(encoding="utf-8"))["questions"]
            answered = _answered(personal, data["personal_facts"], answerable, limit)
        finally:
            personal.close()
        other = _personal_store(folder, "personal_2.db", embedder, min_score, second["facts"])
        try:
            second_counts = hits_per_question(other, [("default", text) for text in second["absent"]], limit)
            second_answered = _answered(other, second["facts"], second["answerable"], limit)
        finally:
            other.close()
    return Measured(
        [
            _result("LoCoMo dev conversations", locomo_counts),
            _result("personal facts", personal_counts),
            _result("personal facts, second set", second_counts),
            _result("all", locomo_counts + personal_counts + second_counts),
        ],
        answered,
        second_answered,
    )


def table(measured: Measured, limit: int = 5) -> str:
    lines = [
        "Questions about things never stored (bench/absent_topics.json; the second set's from"
        f" bench/personal_set_2.json), recall limit {limit}:\n",
        "| store | questions | median hits | mean hits | share with no hit |",
        "|---|---:|---:|---:|---:|",
    ]
    return "\n".join(
        [
            *lines,
            *(result.row() for result in measured.absent),
            "",
            _answered_line("the personal store (bench/personal_answerable.json", measured.answered),
            _answered_line("the second personal store (bench/personal_set_2.json", measured.second_answered),
        ]
    )


def _answered_line(store: str, answered: Answered) -> str:
    return (
        f"Answerable questions on {store}, {answered.questions}): the fact asked about is among the hits"
        f" for {answered.found:.2f} of them ({answered.found_without_floor:.2f} with no floor), beside"
        f" {answered.others:.2f} other hits a question on average"
    )
