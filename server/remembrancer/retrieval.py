"""Pure pieces of retrieval: the words of a query worth searching for, and newer versions first."""

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
