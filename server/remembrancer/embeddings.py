"""Text to unit-length float32 vectors: the Embedder protocol and its fastembed implementation.

The default model is all-MiniLM-L6-v2, quantized to int8 (weights per channel, activations
on the fly; ``tools/build_model.py`` makes it): ``model.onnx`` and the tokenizer files ship
inside this package (``remembrancer/model``), so it loads from local files, offline, with no
hub involved. fastembed and onnxruntime are imported only when the model is first loaded.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from remembrancer.config import BUNDLED_MODEL
from remembrancer.errors import ConfigError

log = logging.getLogger(__name__)

BUNDLED_DIM = 384
# fastembed's description of this architecture: mean pooling, then normalisation.
BUNDLED_FASTEMBED_NAME = "sentence-transformers/all-MiniLM-L6-v2"
# onnxruntime's CPU arena keeps the high-water mark of every batch: about 170 MB more resident
# memory after an import, for no measurable speed here.
SESSION_OPTIONS: dict[str, Any] = {"enable_cpu_mem_arena": False}


class Embedder(Protocol):
    """Anything that turns texts into unit vectors of a fixed dimension."""

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


def bundled_model_dir() -> Path:
    """The folder holding the bundled model.onnx and its tokenizer files (package data)."""
    return Path(__file__).parent / "model"


def known_dim(model: str) -> int:
    """The dimension of a model, without loading it."""
    if model == BUNDLED_MODEL:
        return BUNDLED_DIM
    from fastembed import TextEmbedding

    for description in TextEmbedding.list_supported_models():
        if description["model"] == model:
            return int(description["dim"])
    raise ConfigError(
        f"unknown embedding model {model!r}. Use {BUNDLED_MODEL} (bundled, offline) or a model "
        "name from fastembed's TextEmbedding.list_supported_models()."
    )


class FastEmbedder:
    """fastembed behind a lock, loaded on first use or by ``start_loading()`` in the background."""

    def __init__(self, model: str = BUNDLED_MODEL, batch_size: int = 32) -> None:
        self._model_name = model
        self._dim = known_dim(model)
        self._batch_size = batch_size
        self._model: Any = None
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()
        self._loader: threading.Thread | None = None

    @property
    def name(self) -> str:
        return self._model_name

    @property
    def dim(self) -> int:
        return self._dim

    def start_loading(self) -> None:
        """Load in a background thread so the first call does not wait for the whole load."""
        self._loader = threading.Thread(target=self._load_quietly, name="embedding-model-load", daemon=True)
        self._loader.start()

    def finish_loading(self, timeout: float = 30.0) -> None:
        """Wait for a background load: exiting while onnxruntime builds its session aborts the process."""
        if self._loader is not None:
            self._loader.join(timeout)

    def _load_quietly(self) -> None:
        try:
            self._ensure_loaded()
        except Exception:  # reported again, with its message, to the first caller
            log.exception("loading the embedding model failed")

    def _ensure_loaded(self) -> Any:
        if self._model is not None:
            return self._model
        with self._load_lock:
            if self._model is None:
                self._model = self._load()
        return self._model

    def _load(self) -> Any:
        from fastembed import TextEmbedding

        threads = max(1, min(4, os.cpu_count() or 1))
        if self._model_name == BUNDLED_MODEL:
            path = bundled_model_dir()
            log.info("loading the bundled embedding model from %s", path)
            return TextEmbedding(
                BUNDLED_FASTEMBED_NAME, specific_model_path=str(path), threads=threads, **SESSION_OPTIONS
            )
        log.info("loading embedding model %s (downloaded on first use when online)", self._model_name)
        return TextEmbedding(self._model_name, threads=threads, **SESSION_OPTIONS)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        model = self._ensure_loaded()
        # A batch is padded to its longest text: embedding in length order wastes less.
        order = sorted(range(len(texts)), key=lambda index: len(texts[index]))
        with self._run_lock:
            vectors = list(model.embed([texts[index] for index in order], batch_size=self._batch_size))
        result: list[list[float]] = [[] for _ in texts]
        for index, vector in zip(order, vectors, strict=True):
            result[index] = vector.astype("float32").tolist()
        return result
