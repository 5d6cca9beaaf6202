"""The command line, in-process, with the real model: people's commands and the export/import round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import FakeEmbedder
from remembrancer.cli import main
from remembrancer.config import Settings
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


@pytest.mark.slow
def test_cli_remember_recall_forget_export_import(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "cli.db")
    code, out, _ = _run(capsys, "remember", "I live in Berlin", "--tag", "home", "--db", db, "--json")
    assert code == 0
    memory_id = json.loads(out)["memory"]["id"]
    code, out, _ = _run(capsys, "recall", "Where do I live?", "--db", db)
    assert code == 0 and memory_id in out and "I live in Berlin" in out
    code, out, _ = _run(capsys, "stats", "--db", db, "--json")
    assert json.loads(out)["memories"] == 1

    export_file = tmp_path / "out.jsonl"
    assert _run(capsys, "export", str(export_file), "--db", db)[0] == 0
    other = str(tmp_path / "other.db")
    code, out, _ = _run(capsys, "import", str(export_file), "--db", other)
    assert code == 0 and "imported 1" in out
    code, out, _ = _run(capsys, "list", "--db", other, "--json")
    assert [m["id"] for m in json.loads(out)] == [memory_id]

    code, out, _ = _run(capsys, "forget", memory_id, "--db", db)
    assert code == 0 and memory_id in out
    code, out, _ = _run(capsys, "history", memory_id, "--db", db)
    assert "forgotten" in out


def test_cli_errors_are_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
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
