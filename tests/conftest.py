"""Shared fixtures: real SQLite files, a deterministic fake embedder, and the real model once."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from fake_llm_api import FakeLLMAPI
from remembrancer.config import Settings
from remembrancer.embeddings import FastEmbedder
from remembrancer.models import RememberResult
from remembrancer.service import MemoryService

FAKE_DIM = 256
_WORD = re.compile(r"\w+")


class FakeEmbedder:
    """Bag of hashed words, normalised: same words give the same vector; counts calls."""

    def __init__(self, name: str = "fake-bag-of-words", dim: int = FAKE_DIM) -> None:
        self._name = name
        self._dim = dim
        self.calls: list[list[str]] = []

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        vectors = []
        for text in texts:
            vector = [0.0] * self._dim
            for word in _WORD.findall(text.casefold()):
                slot = (
                    int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "big") % self._dim
                )
                vector[slot] += 1.0
            norm = math.sqrt(sum(v * v for v in vector)) or 1.0
            if not any(vector):
                vector[0] = 1.0
            vectors.append([v / norm for v in vector])
        return vectors

    @property
    def texts_embedded(self) -> int:
        return sum(len(call) for call in self.calls)


def stored_id(result: RememberResult) -> str:
    """The id of the memory a remember call left the fact in (tests call it where one must be)."""
    assert result.memory is not None
    return result.memory.id


@pytest.fixture
def anyio_backend() -> str:
    """The async tests run on asyncio through anyio's pytest plugin."""
    return "asyncio"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "memory.db"


@pytest.fixture
def settings(db_path: Path) -> Settings:
    return Settings(db_path=db_path)


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    """A real PostgreSQL 18 with pgvector for the session (tests/postgres_server.py)."""
    from postgres_server import postgres_server

    with postgres_server() as server:
        yield server


@pytest.fixture
def sqlite_service(settings: Settings, fake_embedder: FakeEmbedder) -> Iterator[MemoryService]:
    """For tests of the SQLite engine's own files and tables."""
    svc = MemoryService.open(settings, fake_embedder)
    yield svc
    svc.close()


@pytest.fixture(params=["sqlite", "postgres"])
def store_target(request: Any, db_path: Path) -> Path | str:
    """Where the services of a test keep their memories, on each engine: a real SQLite file, and a
    fresh database on a real PostgreSQL with pgvector (the behaviour every engine must share)."""
    if request.param == "postgres":
        from postgres_server import fresh_database

        return fresh_database(request.getfixturevalue("postgres"))
    return db_path


@pytest.fixture
def another_store(request: Any, store_target: Path | str, tmp_path: Path) -> Callable[[str], Path | str]:
    """A second, empty store on the same engine as ``store_target`` (named, for a file)."""

    def make(name: str) -> Path | str:
        if isinstance(store_target, Path):
            return tmp_path / f"{name}.db"
        from postgres_server import fresh_database

        return fresh_database(request.getfixturevalue("postgres"))

    return make


@pytest.fixture
def service(
    store_target: Path | str, settings: Settings, fake_embedder: FakeEmbedder
) -> Iterator[MemoryService]:
    svc = MemoryService.open(settings.with_overrides(db_path=store_target), fake_embedder)
    yield svc
    svc.close()


@pytest.fixture(scope="session")
def real_embedder() -> FastEmbedder:
    """The bundled all-MiniLM-L6-v2 model (int8), loaded once per test session."""
    embedder = FastEmbedder()
    embedder.embed(["warm up"])
    return embedder


@pytest.fixture
def real_service(
    store_target: Path | str, settings: Settings, real_embedder: FastEmbedder
) -> Iterator[MemoryService]:
    svc = MemoryService.open(settings.with_overrides(db_path=store_target), real_embedder)
    yield svc
    svc.close()


# -- the LLM judge against a scripted fake LLM API (Anthropic Messages or OpenAI chat) -------


@pytest.fixture
def fake_api() -> Iterator[FakeLLMAPI]:
    api = FakeLLMAPI().start()
    yield api
    api.stop()


def llm_settings(
    db_path: Path | str, base_url: str, provider: str = "anthropic", **overrides: object
) -> Settings:
    """A judge on the fake API: Anthropic's Messages API, or OpenAI-compatible chat completions."""
    where: dict[str, object] = (
        {"anthropic_api_key": "sk-test", "llm_base_url": base_url}
        if provider == "anthropic"
        else {"llm_provider": "openai", "llm_api_key": "sk-test", "llm_base_url": f"{base_url}/v1"}
    )
    values: dict[str, object] = {
        "db_path": db_path,
        **where,
        "llm_model": "claude-test",
        # Generous: a loaded CI machine must not turn a scripted answer into a timeout.
        "llm_timeout": 10.0,
        "llm_budget": 20.0,
        "llm_max_retries": 2,
        "review_interval": 0,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(params=["anthropic", "openai"])
def llm_provider(request: Any) -> str:
    """The judge's API: every LLM test runs on both."""
    return str(request.param)


@pytest.fixture
def llm_service(store_target: Path | str, fake_api: FakeLLMAPI, llm_provider: str) -> Iterator[MemoryService]:
    svc = MemoryService.open(llm_settings(store_target, fake_api.url, llm_provider), FakeEmbedder())
    yield svc
    svc.close()
