"""Looking after a store: integrity checks, repair, online backup, and surviving SIGKILL."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlean

from conftest import FakeEmbedder
from remembrancer.config import BUNDLED_MODEL, Settings
from remembrancer.embeddings import BUNDLED_DIM
from remembrancer.errors import StoreError
from remembrancer.models import ExportRecord, Memory
from remembrancer.service import MemoryService
from remembrancer.storage import backup, check, repair
from remembrancer.storage.sqlite.store import sqlite_store
from servers import run_cli


@pytest.fixture
def service(sqlite_service: MemoryService) -> MemoryService:
    """This module looks at the SQLite engine's own files and tables."""
    return sqlite_service


NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_check_finds_and_repair_rebuilds_what_is_derived(service: MemoryService) -> None:
    kept: list[Memory] = []
    for n in range(20):
        memory = service.remember(f"memory number {n} about topic w{n}x w{n}y").memory
        assert memory is not None
        kept.append(memory)
    assert check(service.store).ok
    conn = sqlite_store(service.store).conn
    victim = service.store.get_by_ids([kept[3].id])[kept[3].id]
    conn.execute("delete from memory_vectors where rowid = ?", (victim.rowid,))
    unindexed = service.store.get_by_ids([kept[5].id])[kept[5].id]
    conn.execute("delete from memory_fts where rowid = ?", (unindexed.rowid,))
    damaged = check(service.store)
    assert not damaged.ok
    assert damaged.missing_vectors == [victim.rowid] and len(damaged.missing_text) == 1
    repaired = repair(service.store, service._vectors)
    assert repaired.ok and repaired.memories == 20
    assert service.recall("topic w3x w3y").hits[0].id == kept[3].id
    assert service.recall("topic w5x w5y", mode="text").hits[0].id == kept[5].id


def test_backup_while_writing_is_consistent_and_usable(service: MemoryService, tmp_path: Path) -> None:
    for n in range(50):
        service.remember(f"before the backup {n} w{n}q")
    stop = threading.Event()

    def keep_writing() -> None:
        n = 0
        while not stop.is_set():
            service.remember(f"written during the backup {n} w{n}z")
            n += 1

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        time.sleep(0.2)
        target = tmp_path / "copy.db"
        assert backup(service.store, target) > 0
    finally:
        stop.set()
        writer.join()
    copy = MemoryService.open(Settings(db_path=target), FakeEmbedder())
    try:
        report = check(copy.store)
        assert report.ok and report.memories >= 50
        assert copy.recall("before the backup 7 w7q").hits[0].content == "before the backup 7 w7q"
    finally:
        copy.close()
    with pytest.raises(StoreError, match="never overwrites"):
        backup(service.store, target)


@pytest.mark.slow
def test_sigkill_during_bulk_import_leaves_every_memory_whole_or_absent(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    worker = Path(__file__).with_name("crash_worker.py")
    rng = random.Random(1234)
    counts: list[int] = []
    for round_number in range(12):
        proc = subprocess.Popen(
            [sys.executable, str(worker), str(db), str(round_number * 100_000)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"started"
        time.sleep(rng.uniform(0.05, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        service = MemoryService.open(Settings(db_path=db), FakeEmbedder())
        try:
            report = check(service.store)
            assert report.ok, f"round {round_number}: {report.summary()}"
            # Whole batches only: each import transaction holds 256 memories.
            assert (report.memories - (counts[-1] if counts else 0)) % 256 == 0
            counts.append(report.memories)
        finally:
            service.close()
    assert counts == sorted(counts) and counts[-1] > 0


def test_a_page_damaged_after_opening_is_a_clear_error_not_a_crash(tmp_path: Path) -> None:
    """SQLite reads pages as it steps through rows, so damage can surface mid-read: the CLI still
    says in one line what failed and what to do, instead of a traceback or an internal error."""
    db = tmp_path / "memory.db"
    svc = MemoryService.open(Settings(db_path=db), FakeEmbedder(BUNDLED_MODEL, BUNDLED_DIM))
    svc.import_records(
        ExportRecord(
            id=f"m_{i:016x}",
            content=f"memory {i} " + "padding " * 40,
            scope="default",
            created_at=NOW,
            updated_at=NOW,
        )
        for i in range(400)
    )
    svc.close()
    conn = sqlean.connect(str(db))
    conn.execute("pragma wal_checkpoint(truncate)")
    size = int(conn.execute("pragma page_size").fetchone()[0])
    leaves = [
        n for (n,) in conn.execute("select pageno from dbstat where name = 'memories' and pagetype = 'leaf'")
    ]
    conn.close()
    assert len(leaves) > 10
    with db.open("r+b") as file:  # the middle of the table: the open and its first reads still work
        file.seek((leaves[len(leaves) // 2] - 1) * size)
        file.write(b"\xff" * size)

    listed = run_cli(tmp_path, "list", "--limit", "1000", "--db", str(db))
    assert listed.returncode != 0
    lines = listed.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("remembrancer: the database file is damaged"), (
        listed.stderr
    )
    assert "malformed" in lines[0] and "restore the file from a backup" in lines[0]
    doctor = run_cli(tmp_path, "doctor", "--offline", "--db", str(db))  # it does not send you to itself
    assert "[FAIL] database: the database file is damaged" in doctor.stdout, doctor.stdout
    assert "Run `remembrancer doctor`" not in doctor.stdout
