"""One recall's ranking: candidates from the vector and full-text sides (and, when the query
names a date, from that date), each scored on the relevance scale (relevance.py), lifted when
it happened in a period the query names and by the memories beside it, filtered and floored."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future
from datetime import datetime
from functools import partial
from typing import Literal

from remembrancer.query_dates import Period
from remembrancer.relevance import (
    Evidence,
    Ranked,
    is_question,
    relevance,
    topic_words,
    with_neighbours,
    word_share,
    word_weights,
)
from remembrancer.retrieval import query_words
from remembrancer.storage import Store
from remembrancer.storage.rows import RowFilter
from remembrancer.validation import timestamp

RetrievalMode = Literal["hybrid", "vector", "text"]
Submit = Callable[..., Future[tuple[bytes, list[tuple[int, float]]]]]
#: How many of the best memories lift the memories stored beside them.
LEADERS = 60
#: Lift for a memory that happened in a period the query names ("in June 2023"), and how many
#: memories of such a period join the candidates when it happened once.
DATE_LIFT = 0.2
DATED_CANDIDATES = 200


def _vector_side(
    embed: Callable[[], bytes], search: Callable[[bytes], list[tuple[int, float]]] | None
) -> tuple[bytes, list[tuple[int, float]]]:
    """The query's vector and, unless only the text side is measured, its nearest memories."""
    vector = embed()
    return vector, [] if search is None else search(vector)


def rank(
    store: Store,
    submit: Submit,
    query: str,
    embed: Callable[[], bytes],
    row_filter: RowFilter,
    depth: int,
    floor: float,
    mode: RetrievalMode = "hybrid",
    periods: Sequence[Period] = (),
) -> tuple[list[Ranked], dict[int, float]]:
    """The admitted memories whose relevance passes ``floor``, best first, and the cosine
    similarity of each memory the vector side saw. ``mode`` other than hybrid measures one
    side alone (bench/locomo.py)."""
    # The query is embedded, and the vector side searched, on a worker while the text side runs
    # here: the model and SQLite both release the GIL, and each takes about as long.
    search: Callable[[bytes], list[tuple[int, float]]] | None = None
    if mode != "text" and row_filter.narrows:
        search = partial(store.nearest_filtered, row_filter=row_filter, k=depth)
    elif mode != "text":  # brought up to date here, so the search never waits for the store lock
        search = partial(store.current_vectors().nearest, scopes=row_filter.scopes, k=depth)
    vector_job = submit(_vector_side, embed, search)
    words = query_words(query)
    frequency = store.word_frequencies(words) if mode != "vector" else {}
    by_text = store.full_text(words, row_filter, depth, frequency) if frequency else []
    weights = word_weights(topic_words(words), frequency, store.document_count()) if frequency else None
    shares: dict[int, float] = {}
    questions: set[int] = set()

    def share_words(rowids: list[int]) -> None:
        if weights is not None:
            for rowid, (content, tags, context) in store.evidence(rowids).items():
                shares[rowid] = word_share(weights, Evidence(content, tags, context))
                if is_question(content):
                    questions.add(rowid)

    share_words([rowid for rowid, _ in by_text])  # while the query is still being embedded
    vector, by_vector = vector_job.result()
    cosine = {rowid: 1.0 - distance for rowid, distance in by_vector}

    def score(rowids: list[int]) -> dict[int, float]:
        if mode != "text":
            unseen = [rowid for rowid in rowids if rowid not in cosine]
            cosine.update(store.similarities(vector, unseen) if unseen else {})
        share_words([rowid for rowid in rowids if rowid not in shares])
        scores = {
            rowid: relevance(shares.get(rowid, 0.0) if weights is not None else None, cosine.get(rowid))
            for rowid in rowids
        }
        return _lift_dated(store, scores, periods) if periods else scores

    dated = _happened_in(store, periods, row_filter) if periods and mode == "hybrid" else []
    own = score(list(dict.fromkeys([*(r for r, _ in by_vector), *(r for r, _ in by_text), *dated])))
    leaders = sorted(own, key=lambda rowid: (-own[rowid], rowid))[:LEADERS]
    neighbours = store.neighbours(leaders) if mode == "hybrid" else {}
    around = (n for found in neighbours.values() for n in (*found.before, *found.after))
    beside = [n for n in dict.fromkeys(around) if n not in own]
    own.update(score(beside) if beside else {})
    ranked = with_neighbours(own, leaders, neighbours, questions)
    # Neighbours come unfiltered, and the vector copy does not know what was superseded.
    admitted = store.admitted([item.rowid for item in ranked], row_filter)
    return [item for item in ranked if item.rowid in admitted and item.support >= floor], cosine


def _happened_in(store: Store, periods: Sequence[Period], row_filter: RowFilter) -> list[int]:
    """Memories of the periods the query names that happened once (a year is named)."""
    found: list[int] = []
    for period in periods:
        bounds = period.bounds()
        if bounds is not None:
            start, end = (timestamp(moment) for moment in bounds)
            found += store.happened_between(row_filter.scopes, start, end, DATED_CANDIDATES)
    return found


def _lift_dated(store: Store, scores: dict[int, float], periods: Sequence[Period]) -> dict[int, float]:
    for rowid, at in store.event_times(list(scores)).items():
        moment = datetime.fromisoformat(at)
        if any(period.holds(moment) for period in periods):
            scores[rowid] = min(1.0, scores[rowid] + DATE_LIFT)
    return scores
