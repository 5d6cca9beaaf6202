"""One recall's ranking: candidates from the vector and full-text sides, each scored on the
relevance scale (relevance.py), lifted by the memories beside them, filtered and floored."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Literal

from remembrancer.relevance import (
    Evidence,
    Ranked,
    relevance,
    topic_words,
    with_neighbours,
    word_share,
    word_weights,
)
from remembrancer.retrieval import match_expression, query_words
from remembrancer.rows import RowFilter
from remembrancer.store import Store
from remembrancer.text_index import affordable_words

RetrievalMode = Literal["hybrid", "vector", "text"]
Submit = Callable[..., Future[list[tuple[int, float]]]]
#: How many of the best memories lift the memories stored beside them.
LEADERS = 60


def rank(
    store: Store,
    submit: Submit,
    query: str,
    vector: bytes,
    row_filter: RowFilter,
    depth: int,
    floor: float,
    mode: RetrievalMode = "hybrid",
) -> tuple[list[Ranked], dict[int, float]]:
    """The admitted memories whose relevance passes ``floor``, best first, and the cosine
    similarity of each memory the vector side saw. ``mode`` other than hybrid measures one
    side alone (bench/locomo.py)."""
    words = query_words(query)
    frequency = store.word_frequencies(words) if mode != "vector" else {}
    vector_job = None
    if mode != "text" and row_filter.narrows:
        vector_job = submit(store.nearest_filtered, vector, row_filter, depth)
    elif mode != "text":  # brought up to date here, so the search never waits for the store lock
        vector_job = submit(store.current_vectors().nearest, vector, row_filter.scopes, depth)
    searched = affordable_words(words, frequency, store.share_of(row_filter.scopes)) if frequency else []
    match = match_expression(searched)
    by_text = store.full_text(match, row_filter, depth) if match else []
    by_vector = [] if vector_job is None else vector_job.result()

    cosine = {rowid: 1.0 - distance for rowid, distance in by_vector}
    weights = word_weights(topic_words(words), frequency, store.document_count()) if frequency else None

    def score(rowids: list[int]) -> dict[int, float]:
        if mode != "text":
            unseen = [rowid for rowid in rowids if rowid not in cosine]
            cosine.update(store.similarities(vector, unseen) if unseen else {})
        shares: dict[int, float] = {}
        if weights is not None:
            for rowid, (content, tags, context) in store.evidence(rowids).items():
                shares[rowid] = word_share(weights, Evidence(content, tags, context))
        return {
            rowid: relevance(shares.get(rowid, 0.0) if weights is not None else None, cosine.get(rowid))
            for rowid in rowids
        }

    own = score(list(dict.fromkeys([*(r for r, _ in by_vector), *(r for r, _ in by_text)])))
    leaders = sorted(own, key=lambda rowid: (-own[rowid], rowid))[:LEADERS]
    neighbours = store.neighbours(leaders) if mode == "hybrid" else {}
    beside = list(dict.fromkeys(n for found in neighbours.values() for n in found if n not in own))
    own.update(score(beside) if beside else {})
    ranked = with_neighbours(own, leaders, neighbours)
    # Neighbours come unfiltered, and the vector copy does not know what was superseded.
    admitted = store.admitted([item.rowid for item in ranked], row_filter)
    return [item for item in ranked if item.rowid in admitted and item.support >= floor], cosine
