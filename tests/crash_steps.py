"""Run by test_crash_atomicity: one supersede or one undo, killed (SIGKILL) right before its Nth
SQL statement, so every step boundary of the write can be tried.

    python crash_steps.py DB setup             store "old", then "new" superseding it
    python crash_steps.py DB supersede N       store "new" superseding "old" (ids printed by setup)
    python crash_steps.py DB undo N            undo the supersede
"""

from __future__ import annotations

import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from conftest import FakeEmbedder
from remembrancer import validation as check
from remembrancer.config import Settings
from remembrancer.curation import Fact
from remembrancer.dedup import Decision
from remembrancer.review import undo
from remembrancer.service import MemoryService
from remembrancer.storage.sqlite.store import sqlite_store

OLD, NEW = "The team stand-up is at 9:30", "The team stand-up moved to 10:00"


class KillBeforeStatement:
    """The store's connection, killing this process right before its Nth statement."""

    def __init__(self, conn: Any, n: int) -> None:
        self._conn, self._left = conn, n

    def _step(self) -> None:
        self._left -= 1
        if self._left == 0:
            os.kill(os.getpid(), signal.SIGKILL)

    def execute(self, *args: Any) -> Any:
        self._step()
        return self._conn.execute(*args)

    def executemany(self, *args: Any) -> Any:
        self._step()
        return self._conn.executemany(*args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def supersede(service: MemoryService, old_id: str) -> None:
    fact = Fact(NEW, [], {}, "default", "crash-test")
    vector = service._vectors([NEW])[0]
    now = check.timestamp(datetime.now(UTC))
    decision = Decision("supersede", (old_id,), reason="the stand-up moved")
    outcome = service.curator.apply(decision, fact, check.content_hash(NEW), vector, now, False)
    assert outcome.status == "superseded", outcome


def main(db: str, action: str, n: int = 0) -> None:
    service = MemoryService.open(Settings(db_path=Path(db)), FakeEmbedder())
    if action == "setup":
        assert service.remember(OLD, actor="crash-test").status == "added"
        service.close()
        return
    old_id = next(record.id for record in service.export() if record.content == OLD)
    sqlite_store(service.store).conn = KillBeforeStatement(sqlite_store(service.store).conn, n)
    if action == "supersede":
        supersede(service, old_id)
    else:
        added = next(
            event
            for event in service.store.history(limit=1000)
            if event.event == "added" and "supersedes" in event.details
        )
        undo(service.curator, added.id, actor="crash-test")
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 0)
