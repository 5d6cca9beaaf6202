"""What every command of the command line shares: opening the store, printing, parsing values."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from remembrancer.config import Settings
from remembrancer.errors import NotFound
from remembrancer.service import MemoryService
from remembrancer.storage import is_database_uri


def require_store(settings: Settings) -> None:
    """Refuse a database file that is not there: a mistyped --db would show an empty store."""
    path = Path(settings.db_path).expanduser()
    if not is_database_uri(settings.db_path) and not path.exists():
        raise NotFound(
            f"no memory store at {path}; check --db or REMEMBRANCER_DB "
            "(`remembrancer remember` or `import` creates one)."
        )


class opened:
    """The memory service for one command. ``must_exist``: a command that only reads or changes
    what is stored refuses a database file that is not there (a mistyped --db), rather than
    creating an empty store and reporting "no memories"."""

    def __init__(self, settings: Settings, *, must_exist: bool = True, bind_model: bool = True) -> None:
        from remembrancer.embeddings import FastEmbedder

        if must_exist:
            require_store(settings)
        embedder = FastEmbedder(settings.embedding_model)
        self.service = MemoryService.open(settings, embedder, bind_model=bind_model)

    def __enter__(self) -> MemoryService:
        return self.service

    def __exit__(self, *exc: object) -> None:
        self.service.close()


def emit(
    args: argparse.Namespace, value: BaseModel | list[Any] | dict[str, Any], human: Callable[[], str]
) -> None:
    """The value as JSON with --json, else as the human text."""
    if not args.json:
        print(human())
    elif isinstance(value, BaseModel):
        print(value.model_dump_json(indent=2))
    elif isinstance(value, list):
        print(json.dumps([item.model_dump(mode="json") for item in value], ensure_ascii=False, indent=2))
    else:
        print(json.dumps(value, ensure_ascii=False, indent=2))


def parse_event(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(  # noqa: B904 - argparse shows only the message
            f"{value!r} is not an event number; `remembrancer history` shows them in its first column"
        )


def positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of at least 1")
    return number
