"""Build ``server/remembrancer/model/related_words.txt.gz``: for each English word of the bundled
tokenizer's vocabulary, the words closest to it in meaning, as the bundled model embeds single
words ("children": kids 0.86, daughter 0.55, ...). Recall reads it (``related_words.py``) to let a
memory that says "my daughter" answer a question about "children".

Every whole word of three letters or more, not a stop word, is embedded on its own with the
bundled model; each keeps its ``NEIGHBOURS`` nearest words at cosine ``FLOOR`` or more, one of
each stem (recall matches stems), its own stem left out. One line a word: the word, then each neighbour
and its cosine in hundredths, tab-separated, in order of closeness.

Run (a few minutes on 2 cores): .venv/bin/python tools/build_related_words.py
"""

from __future__ import annotations

import gzip
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "server"))

from remembrancer.embeddings import FastEmbedder  # noqa: E402
from remembrancer.related_words import TABLE  # noqa: E402
from remembrancer.relevance import RELATED_COSINE  # noqa: E402
from remembrancer.retrieval import STOP_WORDS  # noqa: E402
from remembrancer.tokens import FIRST_WORD_ID, vocabulary  # noqa: E402
from remembrancer.word_forms import stem  # noqa: E402

NEIGHBOURS = 20
FLOOR = RELATED_COSINE
_WORD = re.compile(r"[a-z]{3,}")


def words() -> list[str]:
    return sorted(
        word
        for word, position in vocabulary().items()
        if position >= FIRST_WORD_ID and _WORD.fullmatch(word) and word not in STOP_WORDS
    )


def main() -> None:
    started = time.perf_counter()
    vocab = words()
    vectors = np.asarray(FastEmbedder().embed(vocab), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    lines = []
    for start in range(0, len(vocab), 1024):
        similarity = vectors[start : start + 1024] @ vectors.T
        for row, word in enumerate(vocab[start : start + 1024]):
            similarity[row, start + row] = -1.0  # not its own neighbour
            nearest = np.argpartition(-similarity[row], 4 * NEIGHBOURS)[: 4 * NEIGHBOURS]
            closest = sorted(
                ((float(similarity[row, i]), vocab[i]) for i in nearest if similarity[row, i] >= FLOOR),
                reverse=True,
            )
            stems = {stem(word)}  # recall matches stems: "kids" and "kid" are one word to it
            kept = []
            for cosine, other in closest:
                if stem(other) not in stems and len(kept) < NEIGHBOURS:
                    stems.add(stem(other))
                    kept.append((cosine, other))
            if kept:
                lines.append("\t".join([word, *(f"{other} {round(100 * cos)}" for cos, other in kept)]))
    TABLE.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode(), compresslevel=9, mtime=0))
    took = time.perf_counter() - started
    print(f"{len(lines)} of {len(vocab)} words have neighbours; {TABLE.stat().st_size} bytes; {took:.0f} s")


if __name__ == "__main__":
    main()
