"""Every logical write is one transaction: a process killed (SIGKILL) before any one of the SQL
statements of a supersede, or of its undo, leaves the store as it was or as the whole write
leaves it, never between."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from remembrancer.storage.sqlite.connection import connect

WORKER = Path(__file__).parent / "crash_steps.py"
State = tuple[tuple[tuple[str, bool], ...], tuple[tuple[str, str, bool], ...]]


def _run(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(WORKER), str(db), *args], capture_output=True, text=True, timeout=120
    )


def _copy(db: Path, folder: Path) -> Path:
    folder.mkdir()
    for file in db.parent.glob(db.name + "*"):  # the database, its -wal and -shm
        shutil.copy2(file, folder / file.name)
    return folder / db.name


def _state(db: Path) -> State:
    """What the memories and their history say, without ids or times (each run makes its own)."""
    conn = connect(db)
    try:
        memories = conn.execute("select id, content, superseded_by is not null from memories").fetchall()
        names = {memory_id: content for memory_id, content, _ in memories}
        events = conn.execute("select memory_id, event, details != '{}' from history").fetchall()
    finally:
        conn.close()
    return (
        tuple(sorted((content, bool(superseded)) for _, content, superseded in memories)),
        tuple(
            sorted((names.get(memory_id, "(gone)"), event, bool(kept)) for memory_id, event, kept in events)
        ),
    )


def _kill_at_every_step(start: Path, action: str, tmp_path: Path) -> int:
    """Run the action killed before its 1st, 2nd, ... statement until it finishes; each killed
    run must leave the start state or the finished one. Returns how many steps were tried."""
    before, killed = _state(start), []
    step = 1
    while True:
        db = _copy(start, tmp_path / f"{action}-{step}")
        done = _run(db, action, str(step))
        if done.returncode == 0:
            after = _state(db)
            break
        assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
        killed.append((step, _state(db)))
        step += 1
    assert before != after
    for at, state in killed:
        assert state in (before, after), f"killed before statement {at}: {state}"
    return step


@pytest.mark.slow
def test_a_supersede_and_its_undo_are_whole_or_absent_wherever_killed(tmp_path: Path) -> None:
    setup = tmp_path / "setup" / "memory.db"
    setup.parent.mkdir()
    assert _run(setup, "setup").returncode == 0
    assert _kill_at_every_step(setup, "supersede", tmp_path) > 5

    superseded = _copy(setup, tmp_path / "superseded")
    finished = _run(superseded, "supersede", "0")
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert _kill_at_every_step(superseded, "undo", tmp_path) > 5
