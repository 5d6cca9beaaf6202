"""Counting tokens for a recall's budget, with the bundled model's tokenizer.

It is not the client's own tokenizer (no client's is available offline), but WordPiece counts
of English text come close to those of the large models' tokenizers, so a budget in tokens
works as a budget for a context window.
"""

from __future__ import annotations

import threading
from typing import Any

from remembrancer.embeddings import bundled_model_dir

_lock = threading.Lock()
_tokenizer: Any = None


def count_tokens(text: str) -> int:
    global _tokenizer
    with _lock:
        if _tokenizer is None:
            from tokenizers import Tokenizer  # loaded on the first budgeted recall only

            tokenizer = Tokenizer.from_file(str(bundled_model_dir() / "tokenizer.json"))
            tokenizer.no_padding()
            tokenizer.no_truncation()
            _tokenizer = tokenizer
        tokenizer = _tokenizer
    return len(tokenizer.encode(text, add_special_tokens=False).ids)
