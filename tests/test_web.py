"""The memory browser over HTTP, through the installed console script (`remembrancer ui`, and
`serve --transport http` with /ui beside /mcp), on both engines: sign-in, scopes, forms and
what they refuse. What a real browser shows and runs is in test_browser.py."""

from __future__ import annotations

import json
import re
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from fake_llm_api import FakeLLMAPI, decision
from servers import clean_env, free_port, http_server, run_cli, ui_server

pytestmark = pytest.mark.slow
ALICE, ADMIN = "alice-token-0123456789abcdef", "admin-token-0123456789abcdef"


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text[:500]
    return found.group(1)


def ids_in(page: httpx.Response | str) -> list[str]:
    text = page if isinstance(page, str) else page.text
    return list(dict.fromkeys(re.findall(r'href="/ui/memory/(m_[0-9a-f]+)"', text)))


def remember(tmp_path: Path, db: Path | str, text: str, *extra: str, **env: str) -> str:
    done = run_cli(tmp_path, "remember", text, "--db", str(db), "--json", *extra, **env)
    assert done.returncode == 0, done.stderr
    return str(json.loads(done.stdout)["memory"]["id"])


def post(client: httpx.Client, path: str, page: httpx.Response, **fields: str) -> httpx.Response:
    origin = f"{client.base_url.scheme}://{client.base_url.netloc.decode()}"
    return client.post(path, data={"csrf": csrf_of(page), **fields}, headers={"origin": origin})


@contextmanager
def signed_in(url: str) -> Iterator[httpx.Client]:
    """A client that opened the address `ui` printed (its one-off token), cookies kept."""
    parts = urlsplit(url)
    with httpx.Client(base_url=f"{parts.scheme}://{parts.netloc}", timeout=60) as client:
        landed = client.get(f"{parts.path}?{parts.query}", follow_redirects=True)
        assert landed.status_code == 200 and "Memories" in landed.text, landed.text[:300]
        session = landed.history[0].headers["set-cookie"].lower()
        assert (
            session.startswith(f"remembrancer_session_{parts.port}=") and "max-age" not in session
        )  # ends with the browser
        yield client


def test_ui_prints_an_address_that_signs_in_and_shows_every_page(
    tmp_path: Path, store_target: Path | str
) -> None:
    kept = remember(tmp_path, store_target, "My favourite editor is Neovim", "--tag", "tools")
    assert remember(tmp_path, store_target, "my favourite editor is neovim") == kept  # a sighting
    other = remember(tmp_path, store_target, "The deploy runs every Friday at noon", "--scope", "work")
    with ui_server(tmp_path, store_target) as url:
        assert "/login?token=" in url  # no token configured: one made for this run only
        with httpx.Client(timeout=30) as stranger:
            bounced = stranger.get(url.split("/login")[0])
            assert bounced.status_code == 303 and "/ui/login" in bounced.headers["location"]
            stale = stranger.get(url.split("token=")[0] + "token=an-address-from-an-earlier-run")
            assert stale.status_code == 401 and "not valid here" in stale.text  # said, not a silent page
        with signed_in(url) as client:
            listing = client.get("/ui")
            assert set(ids_in(listing)) == {kept, other}
            assert client.get("/ui", params={"scope": "work"}).text.count("every Friday") == 1
            assert ids_in(client.get("/ui", params={"tag": "tools"})) == [kept]
            assert set(ids_in(client.get("/ui", params={"since": "7d"}))) == {kept, other}
            assert ids_in(client.get("/ui", params={"until": "2000-01-01"})) == []
            assert client.get("/ui", params={"since": "someday"}).status_code == 400
            page = client.get(f"/ui/memory/{kept}")
            assert page.status_code == 200 and "added" in page.text and "Neovim" in page.text
            assert "<h2>Sightings</h2>" in page.text and "2 times" in page.text
            stats = client.get("/ui/stats")
            assert stats.status_code == 200 and stats.text.count("<rect") >= 3
            assert "<strong>2</strong> memories" in stats.text and "store size" in stats.text
            export = client.get("/ui/export")
            assert "attachment" in export.headers["content-disposition"]
            assert {json.loads(line)["id"] for line in export.text.splitlines()} == {kept, other}
            (tmp_path / "download.jsonl").write_text(export.text)
            again = tmp_path / "again.db"
            assert (
                run_cli(tmp_path, "import", str(tmp_path / "download.jsonl"), "--db", str(again)).returncode
                == 0
            )
            assert run_cli(tmp_path, "export", "--db", str(again)).stdout == export.text
            assert client.get("/ui/memory/m_0000000000000000").status_code == 404
            headers = client.get("/ui").headers
            assert "script-src" not in headers["content-security-policy"]  # no script allowed at all
            assert "default-src 'none'" in headers["content-security-policy"]


def test_ui_opens_a_browser_when_there_is_one(tmp_path: Path) -> None:
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$1" > {opened}\n')
    browser.chmod(browser.stat().st_mode | stat.S_IXUSR)
    script = str(Path(sys.executable).parent / "remembrancer")
    remember(tmp_path, tmp_path / "m.db", "A memory, so the store exists")
    proc = subprocess.Popen(
        [script, "ui", "--db", str(tmp_path / "m.db")],  # the default port, 8766
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=clean_env(tmp_path, BROWSER=str(browser)),
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        printed = proc.stdout.readline().decode().strip()
        deadline = time.monotonic() + 30
        while not opened.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert printed.startswith("http://127.0.0.1:8766/ui/login?token=")
        assert opened.read_text().strip() == printed
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_ui_refuses_to_serve_beyond_loopback_or_a_store_that_is_not_there(tmp_path: Path) -> None:
    remember(tmp_path, tmp_path / "m.db", "A memory, so the store exists")
    done = run_cli(
        tmp_path, "ui", "--no-browser", "--db", str(tmp_path / "m.db"), REMEMBRANCER_HOST="0.0.0.0"
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "loopback only" in done.stderr and "Traceback" not in done.stderr
    typo = run_cli(tmp_path, "ui", "--no-browser", "--db", str(tmp_path / "mm.db"))
    assert typo.returncode == 2 and typo.stderr.count("\n") == 1 and "no memory store at" in typo.stderr
    assert not (tmp_path / "mm.db").exists()


def test_tokens_and_scopes_on_the_http_server(tmp_path: Path, store_target: Path | str) -> None:
    mine = remember(tmp_path, store_target, "Alice's cat is called Miso", "--scope", "alice")
    theirs = remember(tmp_path, store_target, "Bob's salary is 90k", "--scope", "bob")
    tokens = tmp_path / "tokens"
    tokens.write_text(f"alice {ALICE} alice\nadmin.root {ADMIN}\n")  # a name may hold dots
    tokens.chmod(0o600)
    env = {"REMEMBRANCER_AUTH_TOKENS_FILE": str(tokens)}
    with (
        http_server(tmp_path, store_target, "http", env=env) as port,
        httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client,
    ):
        assert client.post("/mcp", json={}).status_code == 401  # MCP still needs its bearer token
        login = client.get("/ui/login")
        wrong = post(client, "/ui/login", login, token="not-a-valid-token-at-all")
        assert wrong.status_code == 401 and "not valid" in wrong.text
        assert client.get("/ui").status_code == 303
        signed = post(client, "/ui/login", login, token=ALICE)
        assert signed.status_code == 303
        cookie = signed.headers["set-cookie"].lower()
        assert all(part in cookie for part in ("httponly", "samesite=strict", "path=/ui", "max-age=2592000"))
        assert ALICE not in signed.headers["set-cookie"]  # a signed session, not the token
        assert "secure" not in cookie  # plain HTTP; behind a TLS proxy (X-Forwarded-Proto) it is:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as behind_proxy:
            again = behind_proxy.get("/ui/login")
            proxied = behind_proxy.post(
                "/ui/login",
                data={"csrf": csrf_of(again), "token": ALICE},
                headers={"origin": f"http://127.0.0.1:{port}", "x-forwarded-proto": "https"},
            )
            assert "secure" in proxied.headers["set-cookie"].lower()
        listing = client.get("/ui")
        assert ids_in(listing) == [mine] and "Bob" not in listing.text
        assert client.get(f"/ui/memory/{theirs}").status_code == 404
        assert client.get("/ui", params={"q": "salary"}).text.count("Bob") == 0
        assert client.get("/ui", params={"scope": "bob"}).status_code == 400
        refused = post(client, f"/ui/memory/{theirs}/edit", listing, content="Bob's salary is 1")
        assert refused.status_code == 404
        assert "Bob" not in client.get("/ui/export").text
        stats = client.get("/ui/stats").text
        assert "alice" in stats and "bob" not in stats and "store size" not in stats  # nothing of the rest
        post(client, "/ui/logout", listing)
        assert client.get("/ui").status_code == 303
        post(client, "/ui/login", client.get("/ui/login"), token=ADMIN)
        assert set(ids_in(client.get("/ui"))) == {mine, theirs}
    shown = run_cli(tmp_path, "list", "--db", str(store_target), "--scope", "bob", "--json")
    assert "Bob's salary is 90k" in shown.stdout  # the refused edit changed nothing


def test_the_sse_server_serves_the_browser_too(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    memory = remember(tmp_path, db, "The SSE transport serves pages as well")
    env = {"REMEMBRANCER_AUTH_TOKEN": ADMIN}
    with (
        http_server(tmp_path, db, "sse", env=env) as port,
        httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client,
    ):
        assert client.get("/sse").status_code == 401  # MCP still needs its bearer token
        assert post(client, "/ui/login", client.get("/ui/login"), token=ADMIN).status_code == 303
        assert ids_in(client.get("/ui")) == [memory]
        said = (tmp_path / f"server-sse-{port}.log").read_text()
        assert f"Memory browser:  http://127.0.0.1:{port}/ui" in said  # as `make run` says it too


def test_no_auth_on_loopback_leaves_the_browser_open_as_it_does_mcp(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    memory = remember(tmp_path, db, "An open loopback server")
    with (
        http_server(tmp_path, db, "http", "--no-auth") as port,
        httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client,
    ):
        page = client.get("/ui")
        assert page.status_code == 200 and ids_in(page) == [memory] and "Log out" not in page.text
        assert client.get("/ui/login").headers["location"] == "/ui"
        refused = client.post(f"/ui/memory/{memory}/edit", data={"content": "x"})
        assert refused.status_code == 403  # open, but still no form from elsewhere


def test_forms_refuse_other_origins_and_bad_input_and_lose_nothing(
    tmp_path: Path, store_target: Path | str
) -> None:
    memory = remember(tmp_path, store_target, "The staging database is on port 5433")
    with ui_server(tmp_path, store_target) as url, signed_in(url) as client:
        page = client.get(f"/ui/memory/{memory}")
        path = f"/ui/memory/{memory}/edit"
        port = urlsplit(url).port
        refusals = {
            "no csrf value": client.post(path, data={"content": "x"}),
            "wrong csrf value": client.post(path, data={"content": "x", "csrf": "guess"}),
            "another port's page": client.post(
                path, data={"content": "x", "csrf": csrf_of(page)}, headers={"origin": "http://127.0.0.1:1"}
            ),
            "a cross-site fetch": client.post(
                path, data={"content": "x", "csrf": csrf_of(page)}, headers={"sec-fetch-site": "cross-site"}
            ),
        }
        for why, response in refusals.items():
            assert response.status_code == 403, why
            assert "cross-site" in response.text, why
        assert client.get("/ui", headers={"host": f"evil.example:{port}"}).status_code == 421
        csrf = csrf_of(page)
        bad = {
            "invalid UTF-8": f"csrf={csrf}&content=%ff%fe".encode(),
            "a lone surrogate": f"csrf={csrf}&content=%ed%a0%80".encode(),
            "raw invalid bytes": b"csrf=" + csrf.encode() + b"&content=\xff",
            "empty content": f"csrf={csrf}&content=".encode(),
            "huge content": f"csrf={csrf}&content=".encode() + b"a" * 2_000_000,
        }
        for why, body in bad.items():
            response = client.post(
                path,
                content=body,
                headers={
                    "content-type": "application/x-www-form-urlencoded",
                    "origin": f"http://127.0.0.1:{port}",
                },
            )
            assert response.status_code == 400, why
            message = re.search(r'class="error" role="alert">([^<]*)<', response.text)
            assert message and "\n" not in message.group(1) and "Traceback" not in response.text, why
        assert client.get("/ui", params={"status": "bogus"}).status_code == 400
        for key in ("-3", "²", "9" * 5000, "99999999999999999999999"):  # each once made a 500
            assert client.get("/ui", params={"before": key}).status_code == 400, key
        for event in ("99999999999999999999999", "²"):
            assert post(client, f"/ui/undo/{event}", page).status_code == 400, event
        assert client.get("/ui", params={"q": "x" * 5000}).status_code in (200, 400)
        forget = post(client, f"/ui/memory/{memory}/forget", page)
        assert forget.status_code == 400 and "confirmation" in forget.text
    shown = run_cli(tmp_path, "list", "--db", str(store_target), "--json")
    assert "The staging database is on port 5433" in shown.stdout


def test_edit_undo_keep_and_forget_through_the_forms(tmp_path: Path, store_target: Path | str) -> None:
    closed = free_port()  # an LLM judge that cannot be reached: the memory waits for review
    llm = {"REMEMBRANCER_LLM_API_KEY": "sk-test", "REMEMBRANCER_LLM_BASE_URL": f"http://127.0.0.1:{closed}"}
    remember(tmp_path, store_target, "I live in Berlin")
    waiting = remember(tmp_path, store_target, "I live in Munich now", **llm)  # the judge is asked, in vain
    memory = remember(tmp_path, store_target, "We release on the first Monday of the month")
    with ui_server(tmp_path, store_target) as url, signed_in(url) as client:
        page = client.get(f"/ui/memory/{memory}")
        edited = post(
            client, f"/ui/memory/{memory}/edit", page, content="We release on the last Friday of the month"
        )
        assert edited.status_code == 303
        page = client.get(edited.headers["location"])
        assert "Saved." in page.text and "was: “We release on the first Monday" in page.text
        recalled = run_cli(tmp_path, "recall", "when do we release", "--db", str(store_target), "--json")
        assert "last Friday" in recalled.stdout and "first Monday" not in recalled.stdout
        event = re.search(r'action="/ui/undo/(\d+)"', page.text)
        assert event, page.text
        undone = post(client, f"/ui/undo/{event.group(1)}", page)
        assert undone.status_code == 303 and "first Monday" in client.get(undone.headers["location"]).text

        queue = client.get("/ui", params={"status": "review"})
        assert ids_in(queue) == [waiting]
        assert "undid event" in client.get(f"/ui/memory/{memory}").text
        assert waiting in ids_in(client.get("/ui", params={"q": "which city do I live in"}))  # live too
        assert waiting in ids_in(client.get("/ui"))
        assert post(client, f"/ui/memory/{waiting}/keep", queue).status_code == 303
        assert ids_in(client.get("/ui", params={"status": "review"})) == []
        assert "reviewed" in client.get(f"/ui/memory/{waiting}").text

        confirm = client.get(f"/ui/memory/{memory}/forget")
        assert "Forget this memory?" in confirm.text
        gone = post(client, f"/ui/memory/{memory}/forget", confirm, confirm="yes")
        assert gone.status_code == 303 and "Forgotten" in client.get(gone.headers["location"]).text
        assert client.get(f"/ui/memory/{memory}").status_code == 404
    listed = run_cli(tmp_path, "list", "--db", str(store_target), "--json")
    assert "release" not in listed.stdout and "Munich" in listed.stdout


def test_the_list_pages_by_key_without_repeating_or_losing_a_memory(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    lines = [
        json.dumps(
            {
                "id": f"m_{i:016x}",
                "content": f"Note number {i} about the garden",
                "scope": "default" if i % 3 else "notes",
                "created_at": f"2024-0{1 + i % 9}-01T00:00:00+00:00",
                "updated_at": f"2024-0{1 + i % 9}-01T00:00:00+00:00",
            }
        )
        for i in range(120)
    ]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n")
    assert run_cli(tmp_path, "import", str(tmp_path / "in.jsonl"), "--db", str(db)).returncode == 0
    with ui_server(tmp_path, db) as url, signed_in(url) as client:
        seen: list[str] = []
        link: str | None = "/ui"
        pages = 0
        while link:
            page = client.get(link)
            seen += ids_in(page)
            found = re.search(r'href="([^"]+)" rel="next"', page.text)
            link = found.group(1).replace("&amp;", "&") if found else None
            pages += 1
        assert pages == 3 and len(seen) == 120 and len(set(seen)) == 120
        notes = ids_in(client.get("/ui", params={"scope": "notes"}))
        assert len(notes) == 40
        stats = client.get("/ui/stats").text
        assert stats.count("<rect") >= 9 + 4  # nine months of bars, four decision kinds


def test_a_supersede_shows_on_both_pages_and_undo_brings_the_old_memory_back(
    tmp_path: Path, fake_api: FakeLLMAPI
) -> None:
    db = tmp_path / "m.db"
    llm = {
        "ANTHROPIC_API_KEY": "sk-test",
        "ANTHROPIC_BASE_URL": fake_api.url,
        "REMEMBRANCER_LLM_MAX_RETRIES": "0",
        "REMEMBRANCER_LLM_TIMEOUT": "10",
        "REMEMBRANCER_LLM_BUDGET": "20",
    }
    berlin = remember(tmp_path, db, "I live in Berlin")
    fake_api.queue(decision("supersede", ["M1"], reason="moved"))
    munich = remember(tmp_path, db, "I live in Munich now", **llm)
    with ui_server(tmp_path, db) as url, signed_in(url) as client:
        older = client.get(f"/ui/memory/{berlin}")
        assert "superseded" in older.text and f'href="/ui/memory/{munich}"' in older.text
        newer = client.get(f"/ui/memory/{munich}")
        assert "superseded by this memory" in newer.text and f'href="/ui/memory/{berlin}"' in newer.text
        assert ids_in(client.get("/ui", params={"status": "superseded"})) == [berlin]
        event = re.search(r'action="/ui/undo/(\d+)"', newer.text)
        assert event, newer.text
        undone = post(client, f"/ui/undo/{event.group(1)}", newer)
        assert undone.status_code == 303 and undone.headers["location"] == "/ui?done=undone"
        assert ids_in(client.get("/ui")) == [berlin]  # Munich, which superseded it, is removed


def test_a_fact_whose_value_changed_is_marked_outdated_in_the_list_and_in_a_search(
    tmp_path: Path, store_target: Path | str
) -> None:
    """Found by a newcomer's trial: the search list called the old fact "live", unmarked. A wrong
    link is undone from the newer memory's page."""
    lisbon = remember(tmp_path, store_target, "I live in Lisbon")
    porto = remember(tmp_path, store_target, "I live in Porto now")
    with ui_server(tmp_path, store_target) as url, signed_in(url) as client:
        for page in (client.get("/ui"), client.get("/ui", params={"q": "where do I live"})):
            rows = {found: row for row in page.text.split("<tr")[1:] for found in ids_in(row)[:1]}
            assert f'class="outdated" href="/ui/memory/{porto}"' in rows[lisbon], rows[lisbon]
            assert "outdated" not in rows[porto], rows[porto]
        # Both were true (a second home): undo on the newer one's page unlinks them.
        page = client.get(f"/ui/memory/{porto}")
        event = re.search(r'action="/ui/undo/(\d+)"', page.text)
        assert event, page.text
        assert post(client, f"/ui/undo/{event.group(1)}", page).status_code == 303
        assert "outdated" not in client.get("/ui").text
        assert not re.search(r'action="/ui/undo/', client.get(f"/ui/memory/{porto}").text)


def test_forged_cookies_sign_nobody_in_and_break_nothing(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    remember(tmp_path, db, "A memory behind a token")
    env = {"REMEMBRANCER_AUTH_TOKEN": ADMIN}
    with http_server(tmp_path, db, "http", env=env) as port:
        name = f"remembrancer_session_{port}"
        for forged in ("token.9999999999.é", "token.²²².x", f"token.{'9' * 5000}.x", "a.b", "...", "token"):
            cookie = {b"cookie": f"{name}={forged}".encode()}  # raw bytes: UTF-8 as a browser may send
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=cookie, timeout=30) as client:
                assert client.get("/ui").status_code == 303, forged  # to the sign-in page
                assert client.get("/ui/login").status_code == 200, forged


def test_what_the_review_found_in_edit_and_undo(tmp_path: Path) -> None:
    """A Save of unchanged multi-line text records nothing (browsers send CRLF); undo is offered
    for the latest change only; a refused edit shows the page again with what was typed; an edit
    settles a review; a scoped token cannot tell another scope's events from missing ones."""
    db = tmp_path / "m.db"
    listing = remember(tmp_path, db, "Shopping list:\n- milk\n- eggs")
    remember(tmp_path, db, "I live in Berlin")
    unreachable = {
        "REMEMBRANCER_LLM_API_KEY": "sk-test",
        "REMEMBRANCER_LLM_BASE_URL": f"http://127.0.0.1:{free_port()}",
    }
    waiting = remember(tmp_path, db, "I live in Munich now", **unreachable)
    with ui_server(tmp_path, db) as url, signed_in(url) as client:
        page = client.get(f"/ui/memory/{waiting}")
        post(client, f"/ui/memory/{waiting}/edit", page, content="I have lived in Munich since May")
        assert ids_in(client.get("/ui", params={"status": "review"})) == []  # a person's edit settles it
        assert "reviewed" in client.get(f"/ui/memory/{waiting}").text
        page = client.get(f"/ui/memory/{listing}")
        same = post(client, f"/ui/memory/{listing}/edit", page, content="Shopping list:\r\n- milk\r\n- eggs")
        assert same.headers["location"].endswith("done=unchanged")
        page = client.get(same.headers["location"])
        assert "Nothing to save" in page.text and "updated" not in page.text
        for text in ("Shopping list:\r\n- milk", "Shopping list:\r\n- bread"):
            post(client, f"/ui/memory/{listing}/edit", page, content=text)
        page = client.get(f"/ui/memory/{listing}")
        offered = re.findall(r'action="/ui/undo/(\d+)"', page.text)
        assert len(offered) == 1 and "now: “Shopping list:\n- bread”" in page.text
        refused = post(client, f"/ui/memory/{listing}/edit", page, content="x" * 40_000 + "typed by hand")
        assert refused.status_code == 400 and "typed by hand</textarea>" in refused.text
        assert 'class="error" role="alert"' in refused.text
    shown = run_cli(tmp_path, "list", "--db", str(db), "--json")
    assert "- bread" in shown.stdout and "\\r" not in shown.stdout


def test_a_scoped_token_cannot_probe_other_scopes_events(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    remember(tmp_path, db, "Alice keeps bees", "--scope", "alice")
    theirs = remember(tmp_path, db, "Bob's locker code is 4411", "--scope", "bob")
    tokens = tmp_path / "tokens"
    tokens.write_text(f"alice {ALICE} alice\nadmin {ADMIN}\n")
    tokens.chmod(0o600)
    with http_server(tmp_path, db, "http", env={"REMEMBRANCER_AUTH_TOKENS_FILE": str(tokens)}) as port:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as admin:
            post(admin, "/ui/login", admin.get("/ui/login"), token=ADMIN)
            page = admin.get(f"/ui/memory/{theirs}")
            post(admin, f"/ui/memory/{theirs}/edit", page, content="Bob's locker code is 9376")
            event = re.findall(r'action="/ui/undo/(\d+)"', admin.get(f"/ui/memory/{theirs}").text)[0]
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as alice:
            listing = alice.get("/ui/login")
            post(alice, "/ui/login", listing, token=ALICE)
            listing = alice.get("/ui")
            probed = post(alice, f"/ui/undo/{event}", listing)
            missing = post(alice, "/ui/undo/999999", listing)
            assert probed.status_code == missing.status_code == 404
            assert f"no history event {event}." in probed.text and theirs not in probed.text
    assert "9376" in run_cli(tmp_path, "list", "--db", str(db), "--scope", "bob", "--json").stdout


def test_unknown_pages_and_empty_months_look_like_the_rest_of_the_site(tmp_path: Path) -> None:
    """An address that is no page answers with the site's own 404 (its headers and a way back);
    the monthly chart keeps the months with nothing stored, so its axis is even."""
    db = tmp_path / "m.db"
    lines = [
        json.dumps(
            {
                "id": f"m_{i:016x}",
                "content": f"Note {i} about the garden",
                "scope": "default",
                "created_at": f"2024-{month}-01T00:00:00+00:00",
                "updated_at": f"2024-{month}-01T00:00:00+00:00",
            }
        )
        for i, month in enumerate(("01", "01", "04"))
    ]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n")
    assert run_cli(tmp_path, "import", str(tmp_path / "in.jsonl"), "--db", str(db)).returncode == 0
    with ui_server(tmp_path, db) as url, signed_in(url) as client:
        for path in ("/ui/nothing-here", "/ui/memory/m_0000000000000001/nothing"):
            missing = client.get(path)
            assert missing.status_code == 404 and "no such page" in missing.text
            assert "default-src 'none'" in missing.headers["content-security-policy"]
            assert 'href="/ui"' in missing.text
        chart = client.get("/ui/stats").text
        labels = re.findall(r">(2024-\d\d)</text>", chart)
        assert labels == ["2024-01", "2024-02", "2024-03", "2024-04"]
        assert re.findall(r"<title>default, (2024-\d\d): (\d+)</title>", chart) == [
            ("2024-01", "2"),
            ("2024-04", "1"),
        ]
