"""Every command in the README's command-line block, run through the installed `remembrancer` script.

The block under "## Command line" is parsed; each subcommand it shows must have a runner below
that uses it for real (a subprocess of the console script, a temporary database, no API key),
so a documented command can never again be missing from the parser or broken at start-up.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fake_llm_api import FakeLLMAPI, decision
from remembrancer.cli import build_parser
from remembrancer.storage.postgres.connection import redacted
from servers import clean_env, free_port, wait_for_port

pytestmark = pytest.mark.slow

README = Path(__file__).resolve().parents[1] / "README.md"
SCRIPT = Path(sys.executable).parent / "remembrancer"


def readme_command_lines() -> list[str]:
    """The lines starting with `remembrancer ` in the first fenced block under "## Command line",
    trailing `# comments` removed."""
    text = README.read_text(encoding="utf-8")
    section = re.search(r"^## Command line\n(.*?)(?=^## )", text, re.M | re.S)
    assert section, "README.md has no '## Command line' section"
    block = re.search(r"^```[^\n]*\n(.*?)^```", section.group(1), re.M | re.S)
    assert block, "the '## Command line' section has no fenced code block"
    lines = [re.split(r"\s+#\s", line, maxsplit=1)[0].strip() for line in block.group(1).splitlines()]
    commands = [line for line in lines if line.startswith("remembrancer ")]
    assert commands, "the command-line block shows no `remembrancer` commands"
    return commands


def readme_subcommands() -> dict[str, str]:
    return {line.split()[1]: line for line in readme_command_lines()}


# -- running the console script ---------------------------------------------------------------


class Cli:
    """`remembrancer ...` in a subprocess, with --db pointing at this test's store: a SQLite file,
    or a database on a real PostgreSQL (``fresh`` makes another empty one of the same kind)."""

    def __init__(self, tmp_path: Path, db: Path | str, fresh: Callable[[str], Path | str]) -> None:
        self.tmp = tmp_path
        self.db = db
        self.fresh = fresh
        self.env = clean_env(tmp_path)

    @property
    def on_postgres(self) -> bool:
        return isinstance(self.db, str)

    def shown(self, db: Path | str) -> str:
        """The store as the commands name it (a URI without its password)."""
        return redacted(db) if isinstance(db, str) else str(db)

    def run(
        self, *args: str, expect: int = 0, stdin: str | None = None, db: Path | str | None = None
    ) -> subprocess.CompletedProcess[str]:
        where = [] if args[0] == "copy" else ["--db", str(db or self.db)]  # copy names both stores
        proc = subprocess.run(
            [str(SCRIPT), *args, *where],
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.tmp,
            timeout=120,
        )
        assert proc.returncode == expect, (
            f"remembrancer {' '.join(args)} exited {proc.returncode}, expected {expect}\n"
            f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
        if expect == 0:
            assert "Traceback" not in proc.stderr, proc.stderr
        return proc

    def json(self, *args: str, db: Path | str | None = None) -> Any:
        return json.loads(self.run(*args, "--json", db=db).stdout)

    def use_llm(self, api: FakeLLMAPI) -> None:
        self.env.update(
            ANTHROPIC_API_KEY="sk-test",
            ANTHROPIC_BASE_URL=api.url,
            REMEMBRANCER_LLM_MAX_RETRIES="0",
            # Generous: a loaded machine must not turn a scripted answer into a timeout.
            REMEMBRANCER_LLM_TIMEOUT="10",
            REMEMBRANCER_LLM_BUDGET="20",
        )


BERLIN = "I live in Berlin"
DEPLOY = "Deploy the website with make release"


@pytest.fixture(scope="module")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two memories stored by the CLI, made once and copied for each test that reads them."""
    tmp = tmp_path_factory.mktemp("seed")
    seed = tmp / "seed.db"
    cli = Cli(tmp, seed, lambda name: tmp / f"{name}.db")
    cli.run("remember", BERLIN, "--tag", "home", "--metadata", '{"source": "chat"}')
    cli.run("remember", DEPLOY, "--tag", "work", "--scope", "proj")
    return seed


@pytest.fixture
def cli(
    tmp_path: Path, seeded_db: Path, store_target: Path | str, another_store: Callable[[str], Path | str]
) -> Cli:
    """On each engine: a copy of the seeded file, or the seeded file copied into a fresh
    Postgres database by `remembrancer copy`."""
    if isinstance(store_target, str):
        Cli(tmp_path, store_target, another_store).run("copy", str(seeded_db), store_target)
    else:
        shutil.copyfile(seeded_db, store_target)
    return Cli(tmp_path, store_target, another_store)


@pytest.fixture
def fake_api() -> Iterator[FakeLLMAPI]:
    api = FakeLLMAPI().start()
    yield api
    api.stop()


def _ids(memories: list[dict[str, Any]]) -> dict[str, str]:
    return {m["content"]: m["id"] for m in memories}


# -- one runner per documented subcommand -----------------------------------------------------


def run_serve(cli: Cli, api: FakeLLMAPI) -> None:
    port = free_port()
    log = cli.tmp / "serve.log"
    env = {**cli.env, "REMEMBRANCER_LOG_LEVEL": "INFO", "REMEMBRANCER_REVIEW_INTERVAL": "0"}
    args = ["serve", "--transport", "http", "--host", "127.0.0.1", "--port", str(port)]
    args += ["--db", str(cli.db), "--scope", "proj", "--no-auth"]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(SCRIPT), *args], stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env
        )
    try:
        wait_for_port(port, proc, log)
        assert proc.poll() is None, log.read_text()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert f"memory store: {cli.shown(cli.db)}" in log.read_text()


def run_ui(cli: Cli, api: FakeLLMAPI) -> None:
    """`ui --port P --no-browser` prints an address that signs in and lists the store."""
    cli.json("remember", "The user prefers dark mode", "--scope", "proj")
    port = free_port()
    args = [str(SCRIPT), "ui", "--db", str(cli.db), "--port", str(port), "--no-browser"]
    proc = subprocess.Popen(
        args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=cli.env
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().decode().strip()
        assert url.startswith(f"http://127.0.0.1:{port}/ui/login?token="), url
        with httpx.Client(timeout=60) as client:
            page = client.get(url, follow_redirects=True)
        assert page.status_code == 200 and "The user prefers dark mode" in page.text
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def run_remember(cli: Cli, api: FakeLLMAPI) -> None:
    result = cli.json(
        "remember", "The user prefers dark mode", "--tag", "ui", "--tag", "Preference",
        "--metadata", '{"from": "settings"}', "--scope", "proj",
    )  # fmt: skip
    assert result["status"] == "added"
    memory = result["memory"]
    assert (memory["scope"], sorted(memory["tags"]), memory["metadata"]) == (
        "proj", ["preference", "ui"], {"from": "settings"}
    )  # fmt: skip
    again = cli.run("remember", "the user prefers DARK mode", "--scope", "proj").stdout
    assert f"known as {memory['id']}" in again and "seen 2 times" in again
    assert cli.json("list", "--scope", "proj", "--tag", "ui")[0]["seen_count"] == 2


def run_recall(cli: Cli, api: FakeLLMAPI) -> None:
    out = cli.run("recall", "Where do I live?", "--limit", "1").stdout
    assert BERLIN in out and DEPLOY not in out
    hits = cli.json(
        "recall", "how do we ship the site", "--scope", "proj", "--scope", "default", "--tag", "work",
        "--since", "2000-01-01", "--until", "2999-12-31",
        "--min-score", "0",
    )["hits"]  # fmt: skip
    assert [hit["content"] for hit in hits] == [DEPLOY]


def run_forget(cli: Cli, api: FakeLLMAPI) -> None:
    ids = _ids(cli.json("list", "--scope", "default", "--scope", "proj"))
    out = cli.run("forget", ids[BERLIN], ids[DEPLOY]).stdout
    assert ids[BERLIN] in out and ids[DEPLOY] in out
    assert cli.json("list") == [] and cli.json("stats")["memories"] == 0
    error = cli.run("forget", ids[BERLIN], expect=2).stderr
    assert error.startswith("remembrancer: ") and len(error.strip().splitlines()) == 1


def run_list(cli: Cli, api: FakeLLMAPI) -> None:
    out = cli.run("list").stdout
    assert BERLIN in out and DEPLOY not in out  # the default scope only
    both = cli.json("list", "--scope", "default", "--scope", "proj", "--limit", "5")
    assert [m["content"] for m in both] == [DEPLOY, BERLIN]  # newest first
    assert [m["content"] for m in cli.json("list", "--scope", "proj", "--tag", "work", "--limit", "1")] == [
        DEPLOY
    ]
    assert cli.json("list", "--tag", "home", "--since", "2000-01-01", "--until", "2000-01-02") == []


def run_history(cli: Cli, api: FakeLLMAPI) -> None:
    ids = _ids(cli.json("list", "--scope", "default", "--scope", "proj"))
    events = cli.json("history")
    assert {(e["event"], e["memory_id"]) for e in events} == {("added", ids[BERLIN]), ("added", ids[DEPLOY])}
    out = cli.run("history", ids[BERLIN]).stdout
    assert "added" in out and ids[BERLIN] in out and "by cli" in out and ids[DEPLOY] not in out


def run_undo(cli: Cli, api: FakeLLMAPI) -> None:
    fresh = cli.fresh("undo")
    cli.use_llm(api)
    berlin = cli.json("remember", BERLIN, db=fresh)["memory"]["id"]
    api.queue(decision("supersede", ["M1"], reason="moved"))
    munich = cli.json("remember", "I live in Munich now", db=fresh)
    assert api.calls == 1 and munich["status"] == "superseded" and munich["superseded"] == [berlin]

    event = next(e for e in cli.json("history", db=fresh) if e["event"] == "superseded")
    assert event["memory_id"] == berlin
    undone = cli.json("undo", str(event["id"]), db=fresh)
    # Undoing the "superseded" event undoes the decision that made it: the new memory's "added".
    decided = event["details"]["decision"]
    assert undone == {"event": decided, "restored": [berlin], "removed": [munich["memory"]["id"]]}
    assert _ids(cli.json("list", db=fresh)) == {BERLIN: berlin}  # Munich removed, Berlin current again

    for bad, message in ((str(event["id"]), "already undone"), ("9999", "no history event 9999")):
        error = cli.run("undo", bad, db=fresh, expect=2).stderr
        assert message in error and len(error.strip().splitlines()) == 1 and "Traceback" not in error


def run_review(cli: Cli, api: FakeLLMAPI) -> None:
    fresh = cli.fresh("review")
    cli.use_llm(api)
    cli.json("remember", BERLIN, db=fresh)
    munich = cli.json("remember", "I live in Munich now", db=fresh)  # the fake answers 500
    assert api.calls == 1 and munich["status"] == "added"
    assert munich["judge"] == "fallback" and munich["needs_review"] is True

    api.queue(decision("supersede", ["M1"], reason="moved"))
    report = cli.json("review", "--limit", "10", db=fresh)
    assert report == {"reviewed": 1, "changed": 1, "remaining": 0, "error": None}
    assert [m["content"] for m in cli.json("list", db=fresh)] == ["I live in Munich now"]  # Berlin superseded
    assert cli.run("review", db=fresh).stdout.strip() == "reviewed 0, changed 0, 0 still waiting"


def run_stats(cli: Cli, api: FakeLLMAPI) -> None:
    stats = cli.json("stats")
    assert (stats["memories"], stats["history_events"]) == (2, 2)
    assert {s["scope"]: s["memories"] for s in stats["scopes"]} == {"default": 1, "proj": 1}
    out = cli.run("stats").stdout
    assert "memories:   2" in out and cli.shown(cli.db) in out


def run_scopes(cli: Cli, api: FakeLLMAPI) -> None:
    assert cli.run("scopes").stdout.split() == ["default", "1", "proj", "1"]
    assert [(s["scope"], s["memories"]) for s in cli.json("scopes")] == [("default", 1), ("proj", 1)]


def run_export(cli: Cli, api: FakeLLMAPI) -> None:
    """Export to a file and to stdout (the default); import both ways loses nothing."""
    exported = cli.tmp / "export.jsonl"
    result = cli.run("export", str(exported))
    assert result.stdout == "" and "exported 2 memories" in result.stderr
    lines = exported.read_text(encoding="utf-8").splitlines()
    assert {json.loads(line)["content"] for line in lines} == {BERLIN, DEPLOY}
    assert cli.run("export").stdout.splitlines() == lines
    refused = cli.run("export", str(exported), expect=2)
    assert "already exists" in refused.stderr and "--force" in refused.stderr
    cli.run("export", str(exported), "--force")
    assert exported.read_text(encoding="utf-8").splitlines() == lines

    copy = cli.fresh("copy")
    assert "imported 2, skipped 0" in cli.run("import", str(exported), db=copy).stdout
    assert cli.run("export", db=copy).stdout.splitlines() == lines


def run_import(cli: Cli, api: FakeLLMAPI) -> None:
    exported = cli.run("export").stdout
    copy = cli.fresh("stdin")
    report = json.loads(cli.run("import", "-", "--json", stdin=exported, db=copy).stdout)
    assert report == {"imported": 2, "skipped_existing": 0}
    assert "imported 0, skipped 2 already present" in cli.run("import", "-", stdin=exported, db=copy).stdout
    assert cli.run("export", db=copy).stdout == exported


def run_reembed(cli: Cli, api: FakeLLMAPI) -> None:
    assert "re-embedded 2 memories with all-MiniLM-L6-v2-q8" in cli.run("reembed").stdout
    assert cli.json("reembed") == {"reembedded": 2, "embedding_model": "all-MiniLM-L6-v2-q8"}
    assert cli.json("recall", "Where do I live?")["hits"][0]["content"] == BERLIN


def run_doctor(cli: Cli, api: FakeLLMAPI) -> None:
    out = cli.run("doctor").stdout
    for part in ("python", "sqlite", "embedding model", "database", "llm"):
        assert f"[ok] {part}:" in out
    repaired = cli.run("doctor", "--repair", "--json")
    assert "repaired:" in repaired.stderr
    assert all(check["ok"] for check in json.loads(repaired.stdout))
    assert cli.json("recall", "Where do I live?")["hits"][0]["content"] == BERLIN


def run_backup(cli: Cli, api: FakeLLMAPI) -> None:
    target = cli.tmp / "backup.db"
    if cli.on_postgres:  # the server's own tools back a database up
        error = cli.run("backup", str(target), expect=2).stderr
        assert "pg_dump" in error and len(error.strip().splitlines()) == 1 and not target.exists()
        return
    assert f"to {target}" in cli.run("backup", str(target)).stdout
    assert target.stat().st_size > 0
    assert _ids(cli.json("list", db=target)) == _ids(cli.json("list"))
    error = cli.run("backup", str(target), expect=2).stderr
    assert "already exists" in error and len(error.strip().splitlines()) == 1
    assert cli.json("backup", str(cli.tmp / "second.db"))["pages"] > 0


def run_copy(cli: Cli, api: FakeLLMAPI) -> None:
    """Into an empty store, ids and times kept (the Postgres runs were seeded by a copy from a
    file); a store that is not empty is refused."""
    there = cli.fresh("there")
    copied = cli.json("copy", str(cli.db), str(there))
    assert (copied["memories"], copied["history_events"]) == (2, 2)
    assert cli.run("export", db=there).stdout == cli.run("export").stdout
    refused = cli.run("copy", str(cli.db), str(there), expect=2).stderr
    assert "already holds 2 memories" in refused and len(refused.strip().splitlines()) == 1


RUNNERS: dict[str, Callable[[Cli, FakeLLMAPI], None]] = {
    "serve": run_serve,
    "ui": run_ui,
    "remember": run_remember,
    "recall": run_recall,
    "forget": run_forget,
    "list": run_list,
    "history": run_history,
    "undo": run_undo,
    "review": run_review,
    "stats": run_stats,
    "scopes": run_scopes,
    "export": run_export,
    "import": run_import,
    "reembed": run_reembed,
    "doctor": run_doctor,
    "backup": run_backup,
    "copy": run_copy,
}


# -- the tests ----------------------------------------------------------------------------------


def test_every_readme_command_has_a_runner() -> None:
    documented = set(readme_subcommands())
    assert documented == set(RUNNERS), (
        f"README commands without a runner here: {sorted(documented - set(RUNNERS))}; "
        f"runners for commands the README does not show: {sorted(set(RUNNERS) - documented)}"
    )


def _subparsers() -> dict[str, Any]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


@pytest.mark.parametrize("command", sorted(readme_subcommands()))
def test_readme_options_exist(command: str) -> None:
    """Each option the README shows for a command, and --db and --json, is one the parser knows."""
    known = _subparsers()
    assert command in known, f"the README shows `remembrancer {command}`, which the parser lacks"
    options = set(known[command]._option_string_actions)
    shown = set(re.findall(r"--[a-z][a-z-]*", readme_subcommands()[command]))
    common = {"--json"} if command == "copy" else {"--db", "--json"}  # copy names both stores
    assert shown | common <= options, f"{command}: {sorted(shown - options)} not accepted"


@pytest.mark.parametrize("command", sorted(RUNNERS))
def test_readme_command_runs(command: str, cli: Cli, fake_api: FakeLLMAPI) -> None:
    RUNNERS[command](cli, fake_api)


def test_review_without_an_llm_is_one_clear_line(cli: Cli) -> None:
    for args in (("review",), ("review", "--limit", "10")):
        proc = cli.run(*args, expect=2)
        assert proc.stdout == ""
        assert proc.stderr.startswith("remembrancer: no LLM is configured")
        assert "ANTHROPIC_API_KEY" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    as_json = cli.run("review", "--json", expect=2)  # with --json, the error is JSON too
    assert as_json.stdout == "" and json.loads(as_json.stderr)["error"].startswith("no LLM is configured")
