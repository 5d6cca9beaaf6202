"""Event time: when a memory happened, apart from when it was stored. Set by remember and
import, kept by export, used by sittings and since/until (which also take relative forms)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from remembrancer.errors import InvalidInput
from remembrancer.moments import resolve
from remembrancer.service import MemoryService
from servers import run_cli, stdio_params, stdio_session, tool_data, tool_text

NOW = datetime(2026, 12, 2, 15, 30, tzinfo=UTC)  # a Wednesday


@pytest.mark.parametrize(
    ("text", "end", "expected"),
    [
        ("7d", False, NOW - timedelta(days=7)),
        ("24h", False, NOW - timedelta(hours=24)),
        ("yesterday", False, datetime(2026, 12, 1, tzinfo=UTC)),
        ("yesterday", True, datetime(2026, 12, 2, tzinfo=UTC) - timedelta(microseconds=1)),
        ("Last  Week", False, datetime(2026, 11, 23, tzinfo=UTC)),
        ("last week", True, datetime(2026, 11, 30, tzinfo=UTC) - timedelta(microseconds=1)),
        ("last month", False, datetime(2026, 11, 1, tzinfo=UTC)),
        ("2023-05-08", True, datetime(2023, 5, 9, tzinfo=UTC) - timedelta(microseconds=1)),
        ("9999-12-31", True, datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
        ("2023-05-08T10:00+02:00", False, datetime(2023, 5, 8, 8, tzinfo=UTC)),
    ],
)
def test_times_as_people_write_them(text: str, end: bool, expected: datetime) -> None:
    assert resolve(text, zone=UTC, end=end, now=NOW) == expected


def test_a_time_that_cannot_be_read_says_what_works() -> None:
    with pytest.raises(InvalidInput, match=r"'soonish' is not a time.*\"7d\".*\"yesterday\""):
        resolve("soonish", zone=UTC, end=False, now=NOW)


def test_sittings_follow_event_time_not_storage_time(service: MemoryService) -> None:
    """A conversation imported today keeps its sittings: turns a day apart are not context."""
    day = datetime(2023, 5, 8, 13, 0, tzinfo=UTC)
    service.remember("Caroline: did you go to the Radiohead concert?", occurred_at=day)
    reply = service.remember("Melanie: yes, and it was amazing!", occurred_at=day + timedelta(minutes=1))
    later = service.remember("Melanie: no, I stayed home with the kids", occurred_at=day + timedelta(days=1))
    for n in range(4):
        service.remember(f"unrelated filler {n} w{n}a w{n}b", occurred_at=day + timedelta(days=2, minutes=n))
    found = [hit.id for hit in service.recall("Radiohead concert", limit=3).hits]
    assert reply.memory is not None and later.memory is not None
    assert reply.memory.id in found and later.memory.id not in found
    hit = service.recall("Radiohead concert").hits[0]
    assert hit.occurred_at == day and hit.created_at > day


@pytest.mark.slow
@pytest.mark.anyio
async def test_over_mcp_event_time_is_set_shown_and_filtered_on(tmp_path: Path) -> None:
    params = stdio_params(tmp_path, REMEMBRANCER_TIMEZONE="Europe/Lisbon")
    async with stdio_session(params, tmp_path / "stderr.log") as client:
        old = tool_data(
            await client.call_tool(
                "remember", {"content": "We moved the office to Porto", "occurred_at": "2023-05-08"}
            )
        )
        assert old["memory"]["occurred_at"].startswith("2023-05-07T23:00:00")  # midnight in Lisbon, summer
        tool_data(await client.call_tool("remember", {"content": "The office printer is broken"}))

        may = await client.call_tool(
            "recall", {"query": "office", "since": "2023-05-01", "until": "2023-05-31", "min_score": 0}
        )
        data = tool_data(may)
        assert [hit["content"] for hit in data["hits"]] == ["We moved the office to Porto"]
        text = tool_text(may)
        assert "2023-05-07" in text or "2023-05-08" in text

        recent = tool_data(
            await client.call_tool("recall", {"query": "office", "since": "7d", "min_score": 0})
        )
        assert [hit["content"] for hit in recent["hits"]] == ["The office printer is broken"]
        assert any("since '7d' read as" in note and "Europe/Lisbon" in note for note in recent["notes"])

        wrong = await client.call_tool("recall", {"query": "office", "since": "soonish"})
        assert wrong.is_error


def test_the_command_line_sets_keeps_and_filters_on_event_time(tmp_path: Path) -> None:
    db = str(tmp_path / "memory.db")
    assert (
        run_cli(
            tmp_path, "remember", "I ran the Lisbon marathon", "--occurred-at", "2019-10-20", "--db", db
        ).returncode
        == 0
    )
    assert run_cli(tmp_path, "remember", "I bought running shoes", "--db", db).returncode == 0
    old = json.loads(
        run_cli(
            tmp_path, "recall", "running", "--until", "2019-12-31", "--json", "--min-score", "0", "--db", db
        ).stdout
    )
    assert [hit["content"] for hit in old["hits"]] == ["I ran the Lisbon marathon"]
    recent = json.loads(run_cli(tmp_path, "list", "--since", "yesterday", "--json", "--db", db).stdout)
    assert [memory["content"] for memory in recent] == ["I bought running shoes"]

    exported = tmp_path / "out.jsonl"
    assert run_cli(tmp_path, "export", str(exported), "--db", db).returncode == 0
    records = [json.loads(line) for line in exported.read_text().splitlines()]
    marathon = next(record for record in records if "marathon" in record["content"])
    assert marathon["occurred_at"].startswith("2019-10-2")
    copy = str(tmp_path / "copy.db")
    assert run_cli(tmp_path, "import", str(exported), "--db", copy).returncode == 0
    again = json.loads(run_cli(tmp_path, "list", "--until", "2019-12-31", "--json", "--db", copy).stdout)
    assert [memory["occurred_at"] for memory in again] == [marathon["occurred_at"]]

    bad = run_cli(tmp_path, "recall", "x", "--since", "whenever", "--db", db)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "whenever" in bad.stderr
