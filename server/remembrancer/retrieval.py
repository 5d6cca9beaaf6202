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
RRF_K = 60


def full_text_query(text: str) -> str | None:
    """An FTS5 expression matching any of the text's words, each quoted so no user text is syntax.

    Returns None when the text has no words at all.
    """
    words = [word.casefold() for word in _WORD.findall(text)]
    terms = [word for word in words if word not in STOP_WORDS] or words
    unique = list(dict.fromkeys(term.replace('"', "") for term in terms if term.replace("_", "")))
    if not unique:
        return None
    return " OR ".join(f'"{term}"' for term in unique[:MAX_QUERY_TERMS])


def reciprocal_rank_fusion(rankings: Sequence[Sequence[int]], k: int = RRF_K) -> list[tuple[int, float]]:
    """Fuse ranked id lists: each list gives 1 / (k + rank) to each id it holds; best first."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))
