"""Words close in meaning to a query word, for recall's word side: a question about "children"
should find "my daughter", one about "cities" should find "Chicago".

The table (``model/related_words.txt.gz``, built by ``tools/build_related_words.py``) holds, for
each English word of the bundled tokenizer's vocabulary, its nearest words as the bundled model
embeds single words, with their cosine. Read once, on first use, in about 0.1 s.
"""

from __future__ import annotations

import gzip
from functools import lru_cache
from pathlib import Path

TABLE = Path(__file__).resolve().parent / "model" / "related_words.txt.gz"


@lru_cache(maxsize=1)
def _table() -> dict[str, str]:
    """Each word's line, parsed when asked for (parsed whole, the table took 64 MB; as lines, 8)."""
    table: dict[str, str] = {}
    with gzip.open(TABLE, "rt", encoding="utf-8") as lines:
        for line in lines:
            word, _, neighbours = line.rstrip("\n").partition("\t")
            table[word] = neighbours
    return table


@lru_cache(maxsize=4096)
def related(word: str) -> tuple[tuple[str, float], ...]:
    """The words closest in meaning to ``word`` (casefolded), closest first, with their cosine."""
    line = _table().get(word)
    if not line:
        return ()
    pairs = (pair.partition(" ") for pair in line.split("\t"))
    return tuple((other, int(cosine) / 100) for other, _, cosine in pairs)


def load() -> None:
    """Read the table now (a server does, while its model loads), not on the first recall."""
    _table()
