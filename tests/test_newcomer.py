"""A newcomer's mistakes get one clear line and exit code 2, never a traceback or silence:
through the installed console script, and over MCP stdio with a client that sends bad text."""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from fake_llm_api import FakeLLMAPI, Reply, decision, error
from remembrancer.models import RecallHit
from remembrancer.recall_lines import hit_line
from remembrancer.stdio_guard import mark_lone_surrogates
from remembrancer.tokens import count_tokens
from servers import clean_env

SCRIPT = Path(sys.executable).parent / "remembrancer"


def _run(
    tmp_path: Path, *args: str | bytes, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env=env or clean_env(tmp_path),
        cwd=tmp_path,
        timeout=120,
    )


def _one_line_error(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("remembrancer: "), done.stderr
    assert "Traceback" not in done.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "memory.db"
    assert _run(tmp_path, "remember", "I keep bees", "--db", str(path)).returncode == 0
    return path


def test_files_that_are_not_there(tmp_path: Path, db: Path) -> None:
    _one_line_error(_run(tmp_path, "import", str(tmp_path / "nope.jsonl"), "--db", str(db)), "nope.jsonl")
    _one_line_error(_run(tmp_path, "import", str(tmp_path), "--db", str(db)), "it is a folder")
    _one_line_error(_run(tmp_path, "remember", "x", "--scope", "Überscope", "--db", str(db)), "ASCII letters")
    _one_line_error(
        _run(tmp_path, "export", str(tmp_path / "no" / "x.jsonl"), "--db", str(db)), "does not exist"
    )
    assert not (tmp_path / "no").exists()
    typo = tmp_path / "memroy.db"
    for command in (
        ["list"],
        ["stats"],
        ["recall", "bees"],
        ["history"],
        ["export"],
        ["scopes"],
        ["forget", "m_1"],
    ):
        _one_line_error(_run(tmp_path, *command, "--db", str(typo)), str(typo), "REMEMBRANCER_DB")
    assert not typo.exists()


def test_text_that_is_not_utf8_is_refused_and_nothing_is_stored(tmp_path: Path, db: Path) -> None:
    bad = os.fsdecode(b"caf\xe9 au lait")  # a Latin-1 byte where UTF-8 was expected
    _one_line_error(_run(tmp_path, "remember", bad, "--db", str(db)), "content", "UTF-8")
    _one_line_error(_run(tmp_path, "recall", bad, "--db", str(db)), "query", "UTF-8")
    _one_line_error(
        _run(tmp_path, "remember", "x", "--metadata", '{"k": "\\ud800"}', "--db", str(db)), "metadata"
    )
    assert json.loads(_run(tmp_path, "stats", "--json", "--db", str(db)).stdout)["memories"] == 1


def test_ids_limits_and_folders_that_cannot_be_are_one_line_errors(tmp_path: Path, db: Path) -> None:
    """Found by a newcomer's trial: these once ended in a traceback, or in "no history" and exit 0."""
    bad_id = os.fsdecode(b"m_\xff")  # a byte that is not UTF-8, as a shell passes it
    _one_line_error(_run(tmp_path, "forget", bad_id, "--db", str(db)), "id", "UTF-8")
    _one_line_error(_run(tmp_path, "history", bad_id, "--db", str(db)), "id", "UTF-8")
    _one_line_error(_run(tmp_path, "forget", "", "--db", str(db)), "id is empty")
    _one_line_error(_run(tmp_path, "history", "m_nope", "--db", str(db)), "m_nope", "no history")
    for limit in ("0", "-1"):
        _one_line_error(_run(tmp_path, "history", "--limit", limit, "--db", str(db)), "limit", limit)
    missing = tmp_path / "no" / "backup.db"
    _one_line_error(_run(tmp_path, "backup", str(missing), "--db", str(db)), "does not exist")
    assert not missing.parent.exists()
    kept = json.loads(_run(tmp_path, "list", "--json", "--db", str(db)).stdout)
    assert [memory["content"] for memory in kept] == ["I keep bees"]
    done = _run(tmp_path, "history", kept[0]["id"], "--db", str(db))
    assert done.returncode == 0 and "added" in done.stdout, done.stderr


def test_an_import_with_ids_that_cannot_be_ids_is_refused_whole(tmp_path: Path, db: Path) -> None:
    """Imported ids go as they are into the browser's links and the history: an id with a line
    break, markup, a path or no characters at all stops the import before anything is stored."""
    good = {"content": "I keep bees", "scope": "default", "created_at": "2024-01-01T00:00:00Z"}
    for bad in ("m_1\nforged line", '"><script>alert(1)</script>', "../../etc", "", "x" * 200, "-flag"):
        source = tmp_path / "in.jsonl"
        records = [{**good, "id": "m_ok", "updated_at": good["created_at"]}, {**good, "id": bad}]
        source.write_text(
            "".join(json.dumps({**r, "updated_at": good["created_at"]}) + "\n" for r in records)
        )
        _one_line_error(_run(tmp_path, "import", str(source), "--db", str(db)), "not a valid memory id")
    assert json.loads(_run(tmp_path, "stats", "--json", "--db", str(db)).stdout)["memories"] == 1
    fine = tmp_path / "fine.jsonl"
    fine.write_text(
        json.dumps(
            {**good, "id": "0b6f7e2a-3c1d-4e5f-9a8b-7c6d5e4f3a2b", "updated_at": "2024-01-01T00:00:00Z"}
        )
        + "\n"
    )
    assert _run(tmp_path, "import", str(fine), "--db", str(db)).returncode == 0  # a UUID is fine


def test_an_import_whose_records_do_not_hold_together_is_refused_whole(tmp_path: Path, db: Path) -> None:
    """Each of these once imported with exit 0: a memory superseded by an id nowhere to be found
    (gone from list and recall), a count below one, a link silently dropped, a time read as 1970."""
    base = {
        "content": "I like tea",
        "scope": "default",
        "created_at": "2024-01-01T00:00:00Z",
        "updated_at": "2024-01-01T00:00:00Z",
    }
    source = tmp_path / "in.jsonl"
    for extra, words in (
        (
            {"superseded_by": "m_nowhere"},
            ("superseded_by", "m_nowhere", "neither in the file nor in the store"),
        ),
        ({"replaces": ["m_nowhere"]}, ("replaces", "m_nowhere")),
        ({"seen_count": 0}, ("seen_count is 0",)),
        ({"seen_count": -4}, ("seen_count is -4",)),
        ({"occurred_at": 12345}, ("occurred_at", "ISO 8601", "not a number")),
        ({"sightings": [{"seen_at": 5}]}, ("seen_at", "not a number")),
    ):
        source.write_text(json.dumps({"id": "m_new", **base, **extra}) + "\n")
        _one_line_error(_run(tmp_path, "import", str(source), "--db", str(db)), *words)
    source.write_text(json.dumps({"content": "only this"}) + "\n")
    _one_line_error(_run(tmp_path, "import", str(source), "--db", str(db)), "id", "remembrancer export")
    assert json.loads(_run(tmp_path, "stats", "--json", "--db", str(db)).stdout)["memories"] == 1
    kept = json.loads(_run(tmp_path, "list", "--json", "--db", str(db)).stdout)[0]["id"]
    fine = [
        {"id": "m_a", **base, "replaces": [kept]},  # a memory already in the store
        {"id": "m_b", **base, "content": "I like coffee", "superseded_by": "m_c"},  # one later in the file
        {"id": "m_c", **base, "content": "I like cocoa"},
    ]
    source.write_text("".join(json.dumps(record) + "\n" for record in fine))
    done = _run(tmp_path, "import", str(source), "--db", str(db))
    assert done.returncode == 0 and "imported 3" in done.stdout, done.stderr


def test_usage_mistakes_are_one_line_and_options_may_come_before_the_command(
    tmp_path: Path, db: Path
) -> None:
    _one_line_error(_run(tmp_path, "recall", "--db", str(db)), "required: query", "recall --help")
    _one_line_error(_run(tmp_path, "frobnicate"), "invalid choice", "remembrancer --help")
    _one_line_error(_run(tmp_path, "list", "--limit", "many", "--db", str(db)), "invalid int value")
    first = _run(tmp_path, "--db", str(db), "--json", "list")
    assert first.returncode == 0, first.stderr
    assert [memory["content"] for memory in json.loads(first.stdout)] == ["I keep bees"]


def test_a_bad_setting_is_named_as_it_was_given(tmp_path: Path, db: Path) -> None:
    """An option is named as the option, its variable as the variable; a scope without a regex."""
    _one_line_error(_run(tmp_path, "serve", "--transport", "http", "--port", "99999"), "--port:", "65535")
    env = {**clean_env(tmp_path), "REMEMBRANCER_PORT": "99999"}
    _one_line_error(_run(tmp_path, "serve", "--transport", "http", env=env), "REMEMBRANCER_PORT:")
    bad_scope = _run(tmp_path, "serve", "--scope", "../x")
    _one_line_error(bad_scope, "--scope:", "is not a scope name", "ASCII letters")
    assert "^[" not in bad_scope.stderr
    env = {**clean_env(tmp_path), "REMEMBRANCER_SCOPE": "a b"}
    _one_line_error(
        _run(tmp_path, "stats", "--db", str(db), env=env), "REMEMBRANCER_SCOPE:", "not a scope name"
    )


def test_remember_dash_reads_the_fact_from_standard_input(tmp_path: Path, db: Path) -> None:
    def remember(stdin: bytes) -> subprocess.CompletedProcess[str]:
        command = [str(SCRIPT), "remember", "-", "--db", str(db)]
        done = subprocess.run(command, input=stdin, capture_output=True, env=clean_env(tmp_path), timeout=120)
        return subprocess.CompletedProcess(
            done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
        )

    done = remember(b"My bees live on the roof\n")
    assert done.returncode == 0 and done.stdout.startswith("added"), done.stderr
    _one_line_error(remember(b"caf\xe9 au lait"), "standard input is not UTF-8")
    _one_line_error(remember(b""), "content is empty")
    listed = json.loads(_run(tmp_path, "list", "--json", "--db", str(db)).stdout)
    assert sorted(memory["content"] for memory in listed) == ["I keep bees", "My bees live on the roof"]


def test_with_json_an_error_is_json(tmp_path: Path, db: Path) -> None:
    done = _run(tmp_path, "recall", "   ", "--json", "--db", str(db))
    assert done.returncode == 2 and done.stdout == ""
    assert "query is empty" in json.loads(done.stderr)["error"]
    usage = _run(tmp_path, "list", "--limit", "many", "--json", "--db", str(db))  # argparse's own errors
    assert usage.returncode == 2 and "invalid int value: 'many'" in json.loads(usage.stderr)["error"]


def test_export_into_a_closed_pipe_is_quiet(tmp_path: Path, db: Path) -> None:
    proc = subprocess.Popen(
        [str(SCRIPT), "export", "--db", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=clean_env(tmp_path),
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # like `| head -0`
    assert proc.wait(timeout=120) == 0
    assert b"Traceback" not in proc.stderr.read()


def test_until_a_date_includes_that_day_and_times_show_their_zone(tmp_path: Path, db: Path) -> None:
    env = clean_env(tmp_path, TZ="Pacific/Auckland")
    today = subprocess.run(["date", "+%F"], capture_output=True, text=True, env=env).stdout.strip()
    listed = _run(tmp_path, "list", "--until", today, "--db", str(db), env=env)
    assert "I keep bees" in listed.stdout, listed.stdout
    assert "NZ" in listed.stdout.splitlines()[0]  # NZDT or NZST: local time, with its zone
    assert _run(tmp_path, "list", "--since", today, "--until", today, "--db", str(db), env=env).stdout.count(
        "bees"
    )


def test_a_busy_port_is_named_before_anything_claims_to_serve(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        done = _run(
            tmp_path,
            "serve",
            "--transport",
            "http",
            "--no-auth",
            "--port",
            port,
            "--db",
            str(tmp_path / "m.db"),
        )
    assert done.returncode == 2 and "already in use" in done.stderr and "--port" in done.stderr
    assert "is serving" not in done.stderr and "Traceback" not in done.stderr


def _request(proc: subprocess.Popen[bytes], line: str, timeout: float = 60) -> dict[str, object]:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(line.encode() + b"\n")
    proc.stdin.flush()
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, f"no reply to {line[:80]} within {timeout} s"
    reply: dict[str, object] = json.loads(proc.stdout.readline())
    return reply


@pytest.mark.slow
def test_every_mcp_request_gets_an_answer_even_with_bad_text_or_types(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [str(SCRIPT), "serve", "--db", str(tmp_path / "m.db")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=clean_env(tmp_path),
    )
    try:
        init = {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "raw", "version": "1"},
        }
        _request(proc, json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": init}))
        assert proc.stdin is not None
        proc.stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')

        def call(number: int, arguments: str, tool: str = "remember") -> str:
            reply = _request(
                proc,
                f'{{"jsonrpc":"2.0","id":{number},"method":"tools/call",'
                f'"params":{{"name":"{tool}","arguments":{arguments}}}}}',
            )
            assert reply["id"] == number
            result = reply["result"]
            assert isinstance(result, dict) and result["isError"] is True, reply
            text = str(result["content"][0]["text"])
            assert "pydantic" not in text and "\n" not in text, text
            return text

        assert "not valid text" in call(2, '{"content": "bad \\ud800 surrogate"}')
        assert "not valid text" in call(3, '{"content": "low \\udc00 alone"}')
        assert "not valid text" in call(4, '{"query": "\\udbff?"}', tool="recall")
        assert "ids must be a list" in call(5, '{"ids": "m_1"}', tool="forget")
        assert "tags must be a list" in call(6, '{"content": "fine", "tags": "x"}')
        assert "'soonish' is not a time" in call(7, '{"query": "x", "since": "soonish"}', tool="recall")
        assert "since must be a string" in call(9, '{"query": "x", "since": 5}', tool="recall")
        assert "limit must be a whole number" in call(8, '{"query": "x", "limit": "many"}', tool="recall")
        ok = _request(
            proc,
            '{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"remember",'
            '"arguments":{"content":"Emoji stay whole \\ud83d\\ude00"}}}',
        )
        result = ok["result"]
        assert isinstance(result, dict) and not result.get("isError"), ok
        assert result["structuredContent"]["memory"]["content"] == "Emoji stay whole \U0001f600"
        both = _request(
            proc,
            '{"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":"recall",'
            '"arguments":{"query":"emoji","scope":["my-repo","default"]}}}',
        )["result"]
        assert isinstance(both, dict) and not both.get("isError"), both
        found = both["structuredContent"]
        assert found["notes"] == ["scope 'my-repo' holds no memories yet"] and len(found["hits"]) == 1
        budget = _request(
            proc,
            '{"jsonrpc":"2.0","id":11,"method":"tools/call","params":{"name":"recall",'
            '"arguments":{"query":"emoji","max_tokens":1}}}',
        )["result"]
        assert isinstance(budget, dict) and budget["structuredContent"]["hits"] == []
        assert "max_tokens must be at least 1" in call(12, '{"query": "x", "max_tokens": 0}', tool="recall")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        (decision("add"), "[ok] llm: reachable"),
        (error(401), "[FAIL] llm: auth refused"),
        (error(404), "[FAIL] llm: model unknown"),
    ],
    ids=["reachable", "auth-refused", "model-unknown"],
)
def test_doctor_asks_the_configured_llm_once(tmp_path: Path, db: Path, reply: Reply, verdict: str) -> None:
    api = FakeLLMAPI().start()
    try:
        api.queue(reply)
        env = clean_env(
            tmp_path, ANTHROPIC_API_KEY="sk-test", ANTHROPIC_BASE_URL=api.url, REMEMBRANCER_LLM_MODEL="m-1"
        )
        done = _run(tmp_path, "doctor", "--db", str(db), env=env)
        assert verdict in done.stdout, done.stdout
        assert api.calls == 1 and api.requests[0]["body"]["max_tokens"] == 1
        offline = _run(tmp_path, "doctor", "--offline", "--db", str(db), env=env)
        assert (
            f"[ok] llm: anthropic provider at {api.url}, model m-1; not contacted (--offline)"
            in offline.stdout
        )
        assert api.calls == 1
    finally:
        api.stop()


def test_doctor_names_an_unreachable_endpoint(tmp_path: Path, db: Path) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    env = clean_env(tmp_path, ANTHROPIC_API_KEY="sk-test", ANTHROPIC_BASE_URL=f"http://127.0.0.1:{port}")
    done = _run(tmp_path, "doctor", "--db", str(db), env=env)
    assert done.returncode == 1 and "[FAIL] llm: unreachable" in done.stdout, done.stdout


@pytest.mark.parametrize(
    ("line", "marked"),
    [
        (r'{"c":"bad \ud800 x"}', r'{"c":"bad \ufdd0 x"}'),
        (r'{"c":"low \udc00 alone"}', r'{"c":"low \ufdd0 alone"}'),
        (r'{"c":"pair \ud83d\ude00 ok"}', r'{"c":"pair \ud83d\ude00 ok"}'),
        (r'{"c":"escaped \\ud800 text"}', r'{"c":"escaped \\ud800 text"}'),
        (r'{"c":"\\ud800\udc00"}', r'{"c":"\\ud800\ufdd0"}'),  # the backslash is escaped: a lone low
        (r'{"c":"\uD800\uDBFF"}', r'{"c":"\ufdd0\ufdd0"}'),
    ],
)
def test_lone_surrogate_escapes_are_marked_and_pairs_kept(line: str, marked: str) -> None:
    assert mark_lone_surrogates(line) == marked
    json.loads(marked)  # and the line parses


def test_version(tmp_path: Path) -> None:
    from importlib.metadata import version

    done = _run(tmp_path, "--version")
    assert done.returncode == 0 and done.stdout.strip() == f"remembrancer {version('remembrancer')}"


def test_recall_within_a_token_budget_keeps_the_best_hits_that_fit(tmp_path: Path, db: Path) -> None:
    """The budget is on the text an assistant reads: a line a hit (id, date, score, content)
    and the notes, the note that says hits were cut included."""
    for fact in ("Bees make honey from nectar", "Bees dance to say where flowers are", "I keep two hives"):
        assert _run(tmp_path, "remember", fact, "--db", str(db)).returncode == 0
    everything = json.loads(_run(tmp_path, "recall", "bees", "--json", "--db", str(db)).stdout)["hits"]
    assert len(everything) >= 2
    note = f"max_tokens {{}}: the best 1 of {len(everything)} hits fit"
    first_line = count_tokens(hit_line(RecallHit.model_validate(everything[0]), several_scopes=False))
    budget = first_line + 20
    for _ in range(3):  # the note names the budget, whose digits are tokens too
        budget = first_line + count_tokens("note: " + note.format(budget))
    budgeted = json.loads(
        _run(tmp_path, "recall", "bees", "--max-tokens", str(budget), "--json", "--db", str(db)).stdout
    )
    assert [hit["id"] for hit in budgeted["hits"]] == [everything[0]["id"]]
    assert budgeted["notes"] == [note.format(budget)]
    short = json.loads(
        _run(tmp_path, "recall", "bees", "--max-tokens", str(first_line), "--json", "--db", str(db)).stdout
    )
    assert short["hits"] == [] and short["notes"][0].startswith(f"max_tokens {first_line}: the best 0 of")
    none = _run(tmp_path, "recall", "bees", "--max-tokens", "1", "--db", str(db))
    assert none.returncode == 0 and "note: max_tokens 1: the best 0 of" in none.stdout
