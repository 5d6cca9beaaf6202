"""Which of a query's words the text side can afford to match, on either engine.

Each engine scores every memory that matches any word (SQLite's BM25 about 1 µs a match,
PostgreSQL's ts_rank several, as it reads each matching row); a word's cost is its document
frequency times the share of the store in the queried scopes. The commonest words cost the
most and weigh the least, so they are left out first, and only when the query would go over.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def affordable_words(
    words: Sequence[str], frequency: Mapping[str, int], scope_share: float, budget: float
) -> list[str]:
    """The words, rarest first, while their matches fit the budget; always at least the rarest
    word. Returned in their original order."""
    order = {word: index for index, word in enumerate(words)}
    kept: set[str] = set()
    spent = 0.0
    for word in sorted(words, key=lambda word: (frequency.get(word, 0), order[word])):
        spent += frequency.get(word, 0) * scope_share
        if kept and spent > budget:
            break
        kept.add(word)
    return [word for word in words if word in kept]
