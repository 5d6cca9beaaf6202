"""`remembrancer copy SRC DST`: a whole store into an empty one, on either engine, as it was.

Everything is carried as stored: memory ids and keys, history events with their numbers (undo
names them), sightings with their wordings, the links saying which memory changed which, the
superseded marks with their times, event times, and the vectors themselves (no re-embedding:
the target is bound to the source's model). The copy is one transaction on the target, so a
failure leaves it empty; it holds the source's write lock meanwhile, so what it reads is one
moment of the source (writers there wait, and past the busy timeout are told to retry).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from remembrancer.errors import InvalidInput, NotFound, StoreError
from remembrancer.models import CopyReport
from remembrancer.storage import Storage, is_database_uri, open_store
from remembrancer.storage.rows import Link

MEMORIES_PER_BATCH = 500
EVENTS_PER_BATCH = 2000


def open_pair(source: str, target: str, busy_timeout: float) -> tuple[Storage, Storage]:
    """Both stores, after checking that the source exists and differs from the target."""
    if not is_database_uri(source) and not Path(source).expanduser().is_file():
        raise NotFound(
            f"no memory store at {source}; give an existing file or a postgresql:// URI to copy from."
        )
    if _same(source, target):
        raise InvalidInput(f"{source} is both the source and the target; copy into a new file or database.")
    opened = open_store(source, busy_timeout=busy_timeout)
    try:
        return opened, open_store(target, busy_timeout=busy_timeout)
    except BaseException:
        opened.close()
        raise


def _same(source: str, target: str) -> bool:
    if is_database_uri(source) or is_database_uri(target):
        return source.rstrip("/") == target.rstrip("/")
    return Path(source).expanduser().resolve() == Path(target).expanduser().resolve()


def copy_store(source: Storage, target: Storage, progress: Callable[[int], None] | None = None) -> CopyReport:
    model, dim = source.get_meta("embedding_model"), source.get_meta("embedding_dim")
    if model is None or dim is None:
        raise InvalidInput(f"{source.path} has never held a memory; there is nothing to copy.")
    target.bind_embedding_model(model, int(dim))  # a store with another model refuses here
    held = target.counts()
    if held["memories"] or held["history"]:
        raise InvalidInput(
            f"{target.path} already holds {held['memories']} memories and {held['history']} history"
            " events; copy only fills an empty store: name a new file or an empty database."
        )
    links: dict[tuple[int, int], Link] = {}
    with source.transaction():
        with target.transaction():
            after = 0
            while batch := source.whole_memories(after, MEMORIES_PER_BATCH):
                target.copy_in(batch, [])
                keys = [whole.row.rowid for whole in batch]
                links.update({(link.newer, link.older): link for link in source.links_touching(keys)})
                after = keys[-1]
                if progress is not None:
                    progress(len(batch))
            event = 0
            while events := source.history_after(event, EVENTS_PER_BATCH):
                target.copy_in([], events)
                event = events[-1].id
            target.finish_copy(list(links.values()))
        copied, expected = target.counts(), source.counts()
    if copied != expected:  # not reachable unless an engine drops rows: say so rather than trust it
        raise StoreError(
            f"the copy holds {copied} where {source.path} holds {expected}; {target.path} is incomplete."
        )
    return CopyReport(
        source=source.path,
        target=target.path,
        memories=copied["memories"],
        history_events=copied["history"],
        links=len(links),
    )
