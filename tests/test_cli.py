"""The command line, in-process, with the real model: people's commands and the export/import round trip."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conftest import FakeEmbedder
from remembrancer import transfer
from remembrancer.cli import build_parser, main
from remembrancer.config import Settings
from remembrancer.errors import InvalidInput
from remembrancer.models import ExportRecord
from remembrancer.service import MemoryService


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_export_import_round_trip_loses_nothing(tmp_path: Path) -> None:
    source = MemoryService.open(Settings(db_path=tmp_path / "a.db"), FakeEmbedder())
    source.remember(
        "The user prefers dark mode", tags=["ui", "preference"], metadata={"from": "chat", "n": [1, 2]}
    )
    source.remember("the user prefers DARK mode", metadata={"from": "second chat"})
    source.remember("Deploy with make release", scope="proj")
    exported = list(source.export())
    source.close()

    lines = [record.model_dump_json() for record in exported]
    target = MemoryService.open(Settings(db_path=tmp_path / "b.db"), FakeEmbedder())
    try:
        report = target.import_records(ExportRecord.model_validate_json(line) for line in lines)
        assert (report.imported, report.skipped_existing) == (2, 0)
        assert [r.model_dump() for r in target.export()] == [r.model_dump() for r in exported]
        assert exported[0].seen_count == 2 and exported[0].sightings[0].metadata == {"from": "second chat"}
        again = target.import_records(ExportRecord.model_validate_json(line) for line in lines)
        assert (again.imported, again.skipped_existing) == (0, 2)
        assert target.recall("deploy release", scope="proj").hits[0].content == "Deploy with make release"
    finally:
        target.close()


def _record(i: int, content: str | None = None) -> ExportRecord:
    at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=i)
    return ExportRecord(
        id=f"m_{i:016x}", content=content or f"note number {i}", created_at=at, updated_at=at, scope="default"
    )


def test_import_across_batches_skips_repeats_and_stops_cleanly_at_a_bad_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches are embedded ahead of the writes: an id repeated in the next batch is still skipped,
    and a record that fails validation stops the import after every batch before it is written."""
    monkeypatch.setattr(transfer, "BATCH", 3)
    service = MemoryService.open(Settings(db_path=tmp_path / "m.db", max_content_bytes=64), FakeEmbedder())
    try:
        first = [_record(i) for i in range(5)] + [_record(2), _record(5), _record(6)]
        report = service.import_records(first)
        assert (report.imported, report.skipped_existing) == (7, 1)
        assert {hit.content for hit in service.recall("note number 6", limit=20).hits} >= {"note number 6"}
        bad = [_record(i) for i in range(10, 17)] + [_record(17, "x" * 65), _record(18)]
        with pytest.raises(
            InvalidInput,
            match=r"record m_0+11: content is 65 bytes.*The 6 records before its batch are stored",
        ):
            service.import_records(bad)
        ids = {record.id for record in service.export()}
        assert {r.id for r in bad[:6]} <= ids and not {r.id for r in bad[6:]} & ids
        assert len(ids) == 13
    finally:
        service.close()


@pytest.mark.slow
def test_cli_remember_recall_forget_export_import(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    store_target: Path | str,
    another_store: Callable[[str], Path | str],
) -> None:
    db = str(store_target)
    code, out, _ = _run(capsys, "remember", "I live in Berlin", "--tag", "home", "--db", db, "--json")
    assert code == 0
    memory_id = json.loads(out)["memory"]["id"]
    code, out, _ = _run(capsys, "recall", "Where do I live?", "--db", db)
    assert code == 0 and memory_id in out and "I live in Berlin" in out
    code, out, _ = _run(capsys, "stats", "--db", db, "--json")
    assert json.loads(out)["memories"] == 1

    export_file = tmp_path / "out.jsonl"
    assert _run(capsys, "export", str(export_file), "--db", db)[0] == 0
    other = str(another_store("other"))
    code, out, _ = _run(capsys, "import", str(export_file), "--db", other)
    assert code == 0 and "imported 1" in out
    code, out, _ = _run(capsys, "list", "--db", other, "--json")
    assert [m["id"] for m in json.loads(out)] == [memory_id]

    code, out, _ = _run(capsys, "forget", memory_id, "--db", db)
    assert code == 0 and memory_id in out
    code, out, _ = _run(capsys, "history", memory_id, "--db", db)
    assert "forgotten" in out


def test_cli_errors_are_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"garbage" * 100)
    code, _, err = _run(capsys, "stats", "--db", str(bad))
    assert code == 2
    assert "not a readable SQLite database" in err and "Traceback" not in err
    assert bad.read_bytes() == b"garbage" * 100

    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": "m_1", "content": "ok"}\n')
    code, _, err = _run(capsys, "import", str(broken), "--db", str(tmp_path / "new.db"))
    assert code == 2 and "line 1" in err and "nothing was imported" in err

    monkeypatch.setenv("REMEMBRANCER_MAX_CONTENT_BYTES", "64")
    too_long = tmp_path / "too_long.jsonl"
    records = [_record(1), _record(2, "x" * 100), _record(3)]
    too_long.write_text("".join(record.model_dump_json() + "\n" for record in records))
    target = tmp_path / "small.db"
    code, _, err = _run(capsys, "import", str(too_long), "--db", str(target))
    assert code == 2 and "record m_0000000000000002: content is 100 bytes" in err
    assert "Nothing was imported" in err and "Traceback" not in err
    code, out, _ = _run(capsys, "stats", "--db", str(target), "--json")
    assert json.loads(out)["memories"] == 0


@pytest.mark.slow
def test_doctor_reports_each_part(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "doctor", "--db", str(tmp_path / "d.db"))
    assert code == 0
    for part in ("python", "sqlite", "embedding model", "database", "llm"):
        assert f"[ok] {part}:" in out
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"garbage" * 100)
    code, out, _ = _run(capsys, "doctor", "--db", str(bad))
    assert code == 1 and "[FAIL] database:" in out


def test_every_option_of_every_command_says_what_it_is() -> None:
    """`remembrancer CMD --help` describes each option (a newcomer's trial found several bare)."""
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    bare = [
        f"{name} {action.dest}"
        for name, parser in commands.choices.items()
        for action in parser._actions
        if not action.help and not isinstance(action, argparse._HelpAction)
    ]
    assert bare == []
