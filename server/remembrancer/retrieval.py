"""Pure pieces of hybrid retrieval: the full-text query built from user text, and rank fusion."""

from __future__ import annotations

import re
from collections.abc import Sequence

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


def match_expression(words: Sequence[str]) -> str | None:
    """An FTS5 expression matching any of the words, each quoted so no user text is syntax."""
    return " OR ".join(f'"{word}"' for word in words) or None


def full_text_query(text: str) -> str | None:
    """The FTS5 expression for a query's words; None when it has no words at all."""
    return match_expression(query_words(text))


#: Weight of the full-text side in score fusion; BM25 is the stronger signal on conversation.
TEXT_WEIGHT = 0.7
#: Share of a memory's score given to the memories stored just before and after it.
NEIGHBOUR_SHARE = 0.3
SMOOTHING_DEPTH = 60


def _min_max(scores: dict[int, float]) -> dict[int, float]:
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    if high - low < 1e-12:
        return dict.fromkeys(scores, 1.0)
    return {item: (value - low) / (high - low) for item, value in scores.items()}


def score_fusion(
    by_vector: Sequence[tuple[int, float]],
    by_text: Sequence[tuple[int, float]],
    text_weight: float = TEXT_WEIGHT,
) -> list[int]:
    """Fuse min-max normalised cosine similarity and BM25; best first.

    ``by_vector`` holds (id, cosine distance), ``by_text`` (id, bm25) where lower bm25 is better.
    """
    vector = _min_max({item: 1.0 - distance for item, distance in by_vector})
    text = _min_max({item: -bm25 for item, bm25 in by_text})
    fused = {item: (1.0 - text_weight) * value for item, value in vector.items()}
    for item, value in text.items():
        fused[item] = fused.get(item, 0.0) + text_weight * value
    return sorted(fused, key=lambda item: (-fused[item], item))


def neighbour_smoothing(
    ranked: Sequence[int], neighbours: dict[int, list[int]], share: float = NEIGHBOUR_SHARE
) -> list[tuple[int, float]]:
    """Give each memory's neighbours a share of its score: the answer to a question often sits
    beside the turn that matches it. Scores decay with rank as 1/sqrt(rank)."""
    scores: dict[int, float] = {}
    for rank, item in enumerate(ranked[:SMOOTHING_DEPTH], start=1):
        score = rank**-0.5
        scores[item] = scores.get(item, 0.0) + score
        for neighbour in neighbours.get(item, ()):
            scores[neighbour] = scores.get(neighbour, 0.0) + share * score
    return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))


#: How many newer versions of a fact recall follows from one memory (links can form chains).
NEWER_CHAIN = 4


Guard = tuple[tuple[str, ...], tuple[str, ...]]


def asks_about_older(query_words: frozenset[str], guard: Guard) -> bool:
    """The query names one of the older memory's own words, or two of its weaker ones."""
    strong, weak = guard
    return bool(query_words.intersection(strong)) or len(query_words.intersection(weak)) >= 2


def newest_first(
    ranked: Sequence[int], newer_of: dict[int, list[tuple[int, Guard]]], query_words: frozenset[str]
) -> list[int]:
    """Put each memory's newer versions just before it, pulling them in when absent.

    ``newer_of`` maps a memory to (newer memory, the older one's own words). A query naming
    those words asks about the older fact itself ("the *web* app's *error tracking*" when a
    look-alike was taken for a change), so there the order stays as relevance made it.
    """
    placed: list[int] = []
    seen: set[int] = set()

    def place(item: int, depth: int) -> None:
        if item in seen:
            return
        if depth < NEWER_CHAIN:
            for newer, guard in newer_of.get(item, ()):
                if not asks_about_older(query_words, guard):
                    place(newer, depth + 1)
        if item not in seen:
            seen.add(item)
            placed.append(item)

    for item in ranked:
        place(item, 0)
    return placed
