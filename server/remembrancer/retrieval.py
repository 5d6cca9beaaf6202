"""Retrieval: one recall from the query to its ordered hits. The words worth searching for;
candidates from the vector and full-text sides (and, when the query names a date, from that
date), each scored on the relevance scale (relevance.py), lifted when it happened in a period
the query names and by the memories beside it, ranked higher when the query asks when and its
text names a time (asking_when.py), filtered, weighed with the recall's best hit and how much of
the query the store holds at all (its words, or a memory restating it), and floored; then the
best, with each changed fact's newest version first (changes.py). Depth, fusion, lifting and
filtering live here and nowhere else."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Literal

from remembrancer.asking_when import asks_when, says_when
from remembrancer.changes import Changes, newest_first_hits
from remembrancer.query_dates import Period
from remembrancer.relevance import (
    RELATED_ALONE_COSINE,
    Evidence,
    Ranked,
    WordShare,
    calibrate,
    continues,
    is_question,
    query_held,
    related_shares,
    relevance,
    topic_words,
    with_neighbours,
    word_weights,
)
from remembrancer.storage import Storage
from remembrancer.storage.rows import RowFilter
from remembrancer.validation import timestamp
from remembrancer.word_forms import is_time_word

# Words that carry no topic. Dropped from the full-text side only; the vector side sees all.
STOP_WORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is
    it its itself just me more most my myself no nor not now of off on once only or other our
    ours ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself
    yourselves
    """.split()  # noqa: SIM905
)
_WORD = re.compile(r"\w+", re.UNICODE)
MAX_QUERY_TERMS = 32


def query_words(text: str) -> list[str]:
    """The words of a query worth searching for: stop words dropped (unless that leaves none)."""
    words = [word.casefold() for word in _WORD.findall(text)]
    terms = [word for word in words if word not in STOP_WORDS] or words
    return list(dict.fromkeys(term.replace('"', "") for term in terms if term.replace("_", "")))[
        :MAX_QUERY_TERMS
    ]


RetrievalMode = Literal["hybrid", "vector", "text"]
#: How many candidates each side brings (at least four times the hits asked for).
DEPTH = 50
Submit = Callable[..., Future[tuple[bytes, list[tuple[int, float]]]]]
#: How many of the best memories lift the memories stored beside them.
LEADERS = 30
#: Lift for a memory that happened in a period the query names ("in June 2023"), and how many
#: of that period's memories closest in meaning join the candidates when it happened once.
DATE_LIFT = 0.2
DATED_CANDIDATES = 30
#: Lift for a memory whose text names a time when the query asks when (asking_when.py).
WHEN_LIFT = 0.2
#: A query naming a period and nothing else to look for ("What did I do yesterday?") asks what
#: happened then: each memory of the period is this relevant before the period's lift.
PERIOD_ONLY_RELEVANCE = 0.5
#: Words beside a period that ask for nothing in particular: "What happened ...", "the user".
_NOTHING_TO_LOOK_FOR = frozenset(
    ["happen", "happens", "happened", "happening", "going", "events", "event", "user"]
)


@dataclass(frozen=True)
class Retrieved:
    """A recall's hits as rowids in order, each changed fact's newest version first."""

    order: list[int]
    scores: dict[int, float]
    cosine: dict[int, float]  # of every memory the vector side saw
    changes: Changes


@dataclass(frozen=True)
class Asked:
    """What one recall asks: its text, how to embed it, which memories may answer, the least
    relevance that counts, and the periods the text names. ``mode`` other than hybrid measures
    one side alone (bench/locomo.py)."""

    text: str
    embed: Callable[[], bytes]
    row_filter: RowFilter
    floor: float
    periods: Sequence[Period] = ()
    mode: RetrievalMode = "hybrid"


def retrieve(store: Storage, submit: Submit, asked: Asked, limit: int) -> Retrieved:
    """The best ``limit`` memories passing the floor, newest versions first."""
    ranked, cosine = rank(store, submit, asked, max(DEPTH, limit * 4))
    top = [(item.rowid, item.score) for item in ranked[:limit]]
    order, changes = newest_first_hits(store, [rowid for rowid, _ in top], asked.row_filter, asked.text)
    scores, next_score = dict(top), 0.0
    for rowid in reversed(order):  # a newer version put first scores at least as the hit after it
        next_score = scores[rowid] = max(scores.get(rowid, 0.0), next_score)
    return Retrieved(order[:limit], scores, cosine, changes)


def _vector_side(
    embed: Callable[[], bytes], search: Callable[[bytes], list[tuple[int, float]]] | None
) -> tuple[bytes, list[tuple[int, float]]]:
    """The query's vector and, unless only the text side is measured, its nearest memories."""
    vector = embed()
    return vector, [] if search is None else search(vector)


def rank(store: Storage, submit: Submit, asked: Asked, depth: int) -> tuple[list[Ranked], dict[int, float]]:
    """The admitted memories whose relevance passes the floor, best first, and the cosine
    similarity of each memory the vector side saw."""
    row_filter, mode, periods = asked.row_filter, asked.mode, asked.periods
    # The query is embedded, and the vector side searched, on a worker while the text side runs
    # here: the model and SQLite both release the GIL, and each takes about as long.
    search: Callable[[bytes], list[tuple[int, float]]] | None = None
    if mode != "text" and row_filter.narrows:
        search = partial(store.nearest_filtered, row_filter=row_filter, k=depth)
    elif mode != "text":  # brought up to date here, so the search never waits for the store lock
        search = store.searcher(row_filter.scopes, depth)
    vector_job = submit(_vector_side, asked.embed, search)
    words = query_words(asked.text)
    only_period = _only_past_periods(words, periods)
    in_period: set[int] = set()
    frequency = store.word_frequencies(words) if mode != "vector" else {}
    topics = topic_words(words, frequency)
    by_text = store.full_text(topics, row_filter, depth, frequency) if frequency else []
    weights = word_weights(topics, frequency, store.document_count()) if frequency else None
    word_share = WordShare(weights or {}, related_shares(topics) if weights else None)
    shares: dict[int, float] = {}
    questions: set[int] = set()
    saying_when: set[int] | None = set() if asks_when(asked.text) else None
    continuing: set[int] = set()  # the memories that continue the one stored before them

    def share_words(rowids: list[int]) -> None:
        if weights is not None:
            for rowid, (content, tags, context, continuity) in store.evidence(rowids).items():
                if continues(context, continuity):
                    continuing.add(rowid)
                else:
                    context = ""  # its words are another matter's
                # The text side's rows are read before the query's vector is known (not close):
                # they hold a query word, so a related word alone is not what they need.
                close = cosine.get(rowid, 0.0) >= RELATED_ALONE_COSINE
                shares[rowid] = word_share(Evidence(content, tags, context), close)
                if is_question(content):
                    questions.add(rowid)
                if saying_when is not None and says_when(content):
                    saying_when.add(rowid)

    cosine: dict[int, float] = {}
    share_words([rowid for rowid, _ in by_text])  # while the query is still being embedded
    vector, by_vector = vector_job.result()
    cosine.update((rowid, 1.0 - distance) for rowid, distance in by_vector)

    def score(rowids: list[int]) -> dict[int, float]:
        if mode != "text":
            unseen = [rowid for rowid in rowids if rowid not in cosine]
            cosine.update(store.similarities(vector, unseen, row_filter.scopes) if unseen else {})
        share_words([rowid for rowid in rowids if rowid not in shares])
        scores = {
            rowid: relevance(shares.get(rowid, 0.0) if weights is not None else None, cosine.get(rowid))
            for rowid in rowids
        }
        if not periods:
            return scores
        dated = _lift_dated(store, scores, periods, PERIOD_ONLY_RELEVANCE if only_period else 0.0)
        in_period.update(dated)
        return scores

    dated = _happened_in(store, vector, periods, row_filter) if periods and mode == "hybrid" else []
    own = score(list(dict.fromkeys([*(r for r, _ in by_vector), *(r for r, _ in by_text), *dated])))
    leaders = sorted(own, key=lambda rowid: (-own[rowid], rowid))[:LEADERS]
    neighbours = store.neighbours(leaders) if mode == "hybrid" else {}
    around = (n for found in neighbours.values() for n in (*found.before, *found.after))
    beside = [n for n in dict.fromkeys(around) if n not in own]
    own.update(score(beside) if beside else {})
    # Without the text side's evidence, what continues what is unknown: every neighbour lifts.
    ranked = with_neighbours(own, leaders, neighbours, questions, continuing if weights is not None else None)
    if saying_when:
        ranked = _lift_saying_when(ranked, saying_when)
    # Neighbours come unfiltered, and the vector copy does not know what was superseded.
    admitted = store.admitted([item.rowid for item in ranked], row_filter)
    ranked = [item for item in ranked if item.rowid in admitted]
    closest = max((cosine.get(item.rowid, 0.0) for item in ranked), default=0.0)
    # Asked only about a period, the store holds the question when it holds what happened then.
    admitted_in_period = in_period & admitted
    held = 1.0 if only_period and admitted_in_period else query_held(word_share.coverage(), closest)
    ranked = calibrate(ranked, held)
    # A neighbour passes on its own score and on the support of the memory beside it, both.
    return [item for item in ranked if min(item.score, item.support) >= asked.floor], cosine


def _only_past_periods(words: Sequence[str], periods: Sequence[Period]) -> bool:
    """The query names periods that are over and nothing else to look for. A period still going
    on ("today", "this week") is left out: a fact told today without a time (an editor, a cat)
    happened then too, as far as the store knows."""
    if not periods or not all(is_time_word(word) or word in _NOTHING_TO_LOOK_FOR for word in words):
        return False
    now = datetime.now(UTC)
    for period in periods:
        bounds = period.bounds()
        if (bounds[1] > now) if bounds is not None else period.holds(now):
            return False
    return True


def _lift_saying_when(ranked: list[Ranked], saying_when: set[int]) -> list[Ranked]:
    """For a question asking when, the memories naming a time rank higher; what passes the floor
    (their support) is unchanged: naming a time makes a memory no more about the question."""
    lifted = [
        item._replace(score=min(1.0, item.score + WHEN_LIFT)) if item.rowid in saying_when else item
        for item in ranked
    ]
    # At the scale's top a lift is lost in the cap: there, naming a time breaks the tie.
    return sorted(lifted, key=lambda item: (-item.score, item.rowid not in saying_when))


def _happened_in(
    store: Storage, vector: bytes, periods: Sequence[Period], row_filter: RowFilter
) -> list[int]:
    """The memories closest in meaning among those of each period the query names that
    happened once (a year is named, or it is relative), inside the caller's own time filter."""
    found: list[int] = []
    for period in periods:
        bounds = period.bounds()
        if bounds is None:
            continue
        start = timestamp(bounds[0])
        end = timestamp(bounds[1] - timedelta(microseconds=1))  # until is inclusive
        since = start if row_filter.since is None else max(start, row_filter.since)
        until = end if row_filter.until is None else min(end, row_filter.until)
        if since <= until:
            within = replace(row_filter, since=since, until=until)
            found += [rowid for rowid, _ in store.nearest_filtered(vector, within, DATED_CANDIDATES)]
    return found


def _lift_dated(
    store: Storage, scores: dict[int, float], periods: Sequence[Period], at_least: float
) -> set[int]:
    """Lift the memories that happened in a period the query names (each first raised to
    ``at_least``); the ones lifted."""
    lifted = set()
    for rowid, at in store.event_times(list(scores)).items():
        moment = datetime.fromisoformat(at)
        if any(period.holds(moment) for period in periods):
            scores[rowid] = min(1.0, max(scores[rowid], at_least) + DATE_LIFT)
            lifted.add(rowid)
    return lifted
