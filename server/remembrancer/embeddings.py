"""Text to unit-length float32 vectors: the Embedder protocol and its fastembed implementation.

The default model is all-MiniLM-L6-v2, quantized to int8 (weights per channel, activations
on the fly; ``tools/build_model.py`` makes it): ``model.onnx`` and the tokenizer files ship
inside this package (``remembrancer/model``), so it loads from local files, offline, with no
hub involved. fastembed and onnxruntime are imported only when the model is first loaded.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
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
# Texts handed to a session at a time: large enough that the hand-over costs nothing.
TEXTS_PER_TASK = 16


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
    """fastembed sessions of one thread each, loaded on first use or by ``start_loading()``.

    Every text runs through the model on its own. The int8 model quantizes activations with one
    scale per run, so a text embedded in a batch gets a vector that depends on its neighbours
    (cosine 0.96-0.99 to its vector alone); on its own, a text always gets the same vector.
    Throughput comes from sessions side by side instead: a long list is cut into tasks that up
    to ``workers`` sessions embed at once (on 2 cores, about 1.4x one two-thread session). The
    extra sessions (about 30 MB each) are made on the first long list, so a server that only
    recalls never pays for them. A single query also runs faster on one thread than on two.
    """

    def __init__(self, model: str = BUNDLED_MODEL, workers: int | None = None) -> None:
        self._model_name = model
        self._dim = known_dim(model)
        self._workers = workers if workers is not None else max(1, min(4, os.cpu_count() or 1))
        self._idle: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._sessions = 0
        self._load_lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._loader: threading.Thread | None = None

    @property
    def name(self) -> str:
        return self._model_name

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def sessions(self) -> int:
        """How many onnxruntime sessions are loaded."""
        return self._sessions

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
            self._grow_to(1)
        except Exception:  # reported again, with its message, to the first caller
            log.exception("loading the embedding model failed")

    def _grow_to(self, sessions: int) -> None:
        with self._load_lock:
            while self._sessions < sessions:
                self._idle.put(self._load())
                self._sessions += 1
            if sessions > 1 and self._pool is None:
                self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="embed")

    def _load(self) -> Any:
        from fastembed import TextEmbedding

        if self._model_name == BUNDLED_MODEL:
            path = bundled_model_dir()
            log.info("loading the bundled embedding model from %s", path)
            return TextEmbedding(
                BUNDLED_FASTEMBED_NAME, specific_model_path=str(path), threads=1, **SESSION_OPTIONS
            )
        log.info("loading embedding model %s (downloaded on first use when online)", self._model_name)
        return TextEmbedding(self._model_name, threads=1, **SESSION_OPTIONS)

    def _embed_each(self, texts: list[str]) -> list[Any]:
        session = self._idle.get()
        try:
            return list(session.embed(texts, batch_size=1))
        finally:
            self._idle.put(session)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        tasks = [list(texts[i : i + TEXTS_PER_TASK]) for i in range(0, len(texts), TEXTS_PER_TASK)]
        self._grow_to(min(self._workers, max(1, len(tasks))))
        if len(tasks) <= 1 or self._pool is None:
            vectors = self._embed_each(list(texts))
        else:
            vectors = [vector for task in self._pool.map(self._embed_each, tasks) for vector in task]
        return [vector.astype("float32").tolist() for vector in vectors]
