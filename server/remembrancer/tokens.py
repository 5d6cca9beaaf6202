"""The bundled model's tokenizer: counting tokens for a recall's budget, and its vocabulary.

It is not the client's own tokenizer (no client's is available offline), but WordPiece counts
of English text come close to those of the large models' tokenizers, so a budget in tokens
works as a budget for a context window.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

from remembrancer.embeddings import bundled_model_dir

#: In the BERT vocabulary, ids from here on are whole words (and word pieces) by frequency.
FIRST_WORD_ID = 1996
_lock = threading.Lock()
_tokenizer: Any = None


def _bundled_tokenizer() -> Any:
    global _tokenizer
    with _lock:
        if _tokenizer is None:
            from tokenizers import Tokenizer  # loaded on the first recall only

            tokenizer = Tokenizer.from_file(str(bundled_model_dir() / "tokenizer.json"))
            tokenizer.no_padding()
            tokenizer.no_truncation()
            _tokenizer = tokenizer
        return _tokenizer


def count_tokens(text: str) -> int:
    return len(_bundled_tokenizer().encode(text, add_special_tokens=False).ids)


@lru_cache(maxsize=1)
def vocabulary() -> dict[str, int]:
    """The tokenizer's vocabulary: word -> id (whole words come in order of frequency)."""
    return dict(_bundled_tokenizer().get_vocab())
