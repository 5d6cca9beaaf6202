"""`remembrancer doctor`: check each part a working install needs, and say what to fix."""

from __future__ import annotations

import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from remembrancer.config import Settings


class Check(NamedTuple):
    name: str
    ok: bool
    detail: str


def _run(name: str, probe: Callable[[], str]) -> Check:
    try:
        return Check(name, True, probe())
    except Exception as exc:  # a doctor reports every failure instead of stopping at the first
        return Check(name, False, str(exc) or type(exc).__name__)


def _python() -> str:
    return f"Python {platform.python_version()} ({sys.executable})"


def _engine() -> str:
    from remembrancer.storage import self_test

    return self_test()


def _model(settings: Settings) -> Callable[[], str]:
    def probe() -> str:
        from remembrancer.embeddings import FastEmbedder

        embedder = FastEmbedder(settings.embedding_model)
        started = time.perf_counter()
        vector = embedder.embed(["doctor check"])[0]
        elapsed = time.perf_counter() - started
        if len(vector) != embedder.dim:
            raise RuntimeError(f"the model gave {len(vector)} dimensions, expected {embedder.dim}")
        return f"{embedder.name} loads and embeds ({embedder.dim} dimensions, {elapsed:.2f} s incl. load)"

    return probe


def _database(settings: Settings) -> Callable[[], str]:
    def probe() -> str:
        from remembrancer.storage import check, is_database_uri, open_store

        target: str | Path = settings.db_path
        if not is_database_uri(target):
            target = Path(target).expanduser()
            if not target.exists():
                return f"{target} does not exist yet; it will be created on first use"
        store = open_store(target, migrate=False)
        try:
            where, engine = store.path, store.describe()
            model = store.get_meta("embedding_model")
            if model is None:
                return f"{where}: {engine}; no memories stored yet"
            if model != settings.embedding_model:
                raise RuntimeError(
                    f"{where} was embedded with {model} but {settings.embedding_model} is configured; "
                    f"run `remembrancer reembed --db {where}` or set REMEMBRANCER_EMBEDDING_MODEL={model}."
                )
            report = check(store)
            schema = store.schema_version()
        finally:
            store.close()
        if not report.ok:
            raise RuntimeError(
                f"{where}: {report.summary()}. Run `remembrancer doctor --repair` to rebuild vectors and the "
                "full-text index from the memories (restore a backup if the database itself reports damage)."
            )
        return f"{where}: {engine}, schema {schema}, integrity ok, {report.summary()}, model {model}"

    return probe


def _llm(settings: Settings, offline: bool) -> str:
    from remembrancer.llm_judge import make_judge

    judge = make_judge(settings)
    if judge is None:
        return "no LLM configured: the local judge deduplicates; nothing leaves this machine"
    where = f"{settings.llm_provider} provider at {judge.provider.where}, model {judge.model}"
    if offline:
        return f"{where}; not contacted (--offline)"
    return judge.probe()


def run_checks(settings: Settings, *, offline: bool = False) -> list[Check]:
    return [
        _run("python", _python),
        _run("sqlite", _engine),
        _run("embedding model", _model(settings)),
        _run("database", _database(settings)),
        _run("llm", lambda: _llm(settings, offline)),
    ]
