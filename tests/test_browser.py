"""The memory browser in a real browser: Playwright driving Debian's Chromium (Playwright's own
browser download cannot work here), on `remembrancer ui` and `remembrancer serve` processes
started through the console script, on a real SQLite file with the real embedding model."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from servers import free_port, http_server, run_cli, ui_server

pytestmark = pytest.mark.slow
CHROMIUM = Path(shutil.which("chromium") or "/usr/bin/chromium")
# As the machine's own probe starts it: without the background-networking flags Chromium keeps
# trying hosts this closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("these tests need Debian's Chromium: run `apt-get install chromium` (.ci/run does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def remember(tmp_path: Path, db: Path, text: str, *extra: str) -> str:
    done = run_cli(tmp_path, "remember", text, "--db", str(db), "--json", *extra)
    assert done.returncode == 0, done.stderr
    return str(json.loads(done.stdout)["memory"]["id"])


def search(page: Page, query: str) -> None:
    page.get_by_label("Search", exact=True).fill(query)
    page.get_by_role("button", name="Search").click()
    page.wait_for_load_state()


def status(page: Page, url: str) -> int:
    response = page.goto(url)
    assert response is not None
    return response.status


def first_row(page: Page) -> str:
    return page.locator("table.memories tbody tr:not(.floor)").first.inner_text()


def test_search_finds_a_paraphrase_with_javascript_on_and_off(chromium: Browser, tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    for text in (
        "My favourite editor is Neovim",
        "The team deploys to production every Friday",
        "Our CI runs on GitHub Actions",
        "I am allergic to peanuts",
    ):
        remember(tmp_path, db, text)
    with ui_server(tmp_path, db) as url:
        origin, requested = url.split("/ui")[0], list[str]()
        for scripts in (True, False):
            context = chromium.new_context(java_script_enabled=scripts)
            page = context.new_page()
            requested.clear()
            page.on("request", lambda request: requested.append(request.url))
            page.goto(url)
            assert page.locator("table.memories tbody tr").count() == 4
            search(page, "which code editor do I prefer")
            assert "Neovim" in first_row(page)
            search(page, "when do we ship a release")
            assert "every Friday" in first_row(page)
            page.goto(f"{origin}/ui/stats")
            assert page.locator("svg.chart rect").count() >= 5
            assert requested and all(address.startswith(origin) for address in requested), requested
            context.close()


def test_an_edit_shows_in_the_history_and_in_recall_and_forget_leaves_no_trace(
    chromium: Browser, tmp_path: Path
) -> None:
    db = tmp_path / "m.db"
    for n in range(4):  # the memory shares pages with others
        remember(tmp_path, db, f"Filler note {n} about the vegetable garden")
    memory = remember(tmp_path, db, "The vault code is quokkaplinth-41")
    with ui_server(tmp_path, db) as url:
        page = chromium.new_page()
        page.goto(url)
        page.get_by_role("link", name="The vault code is quokkaplinth-41").click()
        page.get_by_label("Text").fill("The vault code is wombatlintel-77")
        page.get_by_role("button", name="Save").click()
        assert "Saved." in page.locator(".notice").inner_text()
        assert page.locator("h1").inner_text() == "The vault code is wombatlintel-77"
        history = page.locator("table.history").inner_text()
        assert "updated" in history and "was: “The vault code is quokkaplinth-41”" in history
        recalled = run_cli(tmp_path, "recall", "what is the vault code", "--db", str(db), "--json")
        assert "wombatlintel-77" in recalled.stdout and "quokkaplinth" not in recalled.stdout

        page.get_by_role("link", name="Forget this memory…").click()
        page.get_by_label("Yes, forget it").check()
        page.get_by_role("button", name="Forget").click()
        assert "Forgotten" in page.locator(".notice").inner_text()
        assert status(page, f"{url.split('/ui')[0]}/ui/memory/{memory}") == 404
        files = [path for path in tmp_path.iterdir() if path.name.startswith("m.db")]
        assert any(path.name.endswith("-wal") for path in files)  # scanned while the server runs
        for path in files:
            content = path.read_bytes()
            for secret in (b"quokkaplinth", b"wombatlintel"):
                assert secret not in content, f"{secret!r} found in {path.name} after forget"
        page.close()


def test_memory_text_holding_markup_is_shown_as_text_and_runs_nothing(
    chromium: Browser, tmp_path: Path
) -> None:
    db = tmp_path / "m.db"
    hostile = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2"><b>bold</b> & more'
    memory = remember(tmp_path, db, hostile, "--metadata", json.dumps({"note": "<i>italic</i>"}))
    with ui_server(tmp_path, db) as url:
        page = chromium.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: dialogs.append(dialog.message))
        page.goto(url)
        cell = page.locator("table.memories tbody tr td").first
        assert hostile in cell.inner_text()
        assert cell.locator("b, img, script").count() == 0
        page.goto(f"{url.split('/ui')[0]}/ui/memory/{memory}")
        assert page.locator("h1").inner_text() == hostile
        assert page.locator("main img, main b, main i").count() == 0
        assert "<i>italic</i>" in page.locator("dl.facts").inner_text()
        assert page.evaluate("window.pwned") is None and not dialogs
        page.close()


class _Elsewhere(BaseHTTPRequestHandler):
    """A page on another origin that posts a form to the memory browser as soon as it loads."""

    target = ""

    def do_GET(self) -> None:
        body = (
            f'<form id="f" method="post" action="{self.target}"><input name="csrf" value="guess">'
            '<input name="content" value="The vault code is owned"></form>'
            "<script>document.getElementById('f').submit()</script>"
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "text/html")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_wrong_tokens_cross_site_posts_and_other_scopes_are_refused(
    chromium: Browser, tmp_path: Path
) -> None:
    db = tmp_path / "m.db"
    mine = remember(tmp_path, db, "Alice's cat is called Miso", "--scope", "alice")
    theirs = remember(tmp_path, db, "Bob's bike is a red Brompton", "--scope", "bob")
    tokens = tmp_path / "tokens"
    alice = "alice-token-0123456789abcdef"
    tokens.write_text(f"alice {alice} alice\nadmin admin-token-0123456789abcdef\n")
    tokens.chmod(0o600)
    with http_server(tmp_path, db, "http", env={"REMEMBRANCER_AUTH_TOKENS_FILE": str(tokens)}) as port:
        base = f"http://127.0.0.1:{port}"
        page = chromium.new_page()
        page.goto(f"{base}/ui")
        page.get_by_label("Token").fill("a-wrong-token-of-good-length")
        page.get_by_role("button", name="Log in").click()
        assert "not valid" in page.locator(".error").inner_text()
        assert page.locator("table.memories").count() == 0

        page.get_by_label("Token").fill(alice)
        page.get_by_role("button", name="Log in").click()
        rows = page.locator("table.memories tbody").inner_text()
        assert "Miso" in rows and "Brompton" not in rows
        assert status(page, f"{base}/ui/memory/{theirs}") == 404
        page.goto(f"{base}/ui")
        search(page, "bike")
        assert "Brompton" not in page.content()

        _Elsewhere.target = f"{base}/ui/memory/{mine}/edit"
        elsewhere = ThreadingHTTPServer(("127.0.0.1", free_port()), _Elsewhere)
        threading.Thread(target=elsewhere.serve_forever, daemon=True).start()
        try:
            for host in ("localhost", "127.0.0.1"):  # another site, and the same site on another port
                with page.expect_navigation(url=_Elsewhere.target) as landed:
                    page.goto(f"http://{host}:{elsewhere.server_address[1]}/")
                assert landed.value is not None and landed.value.status == 403
                assert "cross-site" in page.content()
        finally:
            elsewhere.shutdown()
        page.goto(f"{base}/ui/memory/{mine}")
        assert page.locator("h1").inner_text() == "Alice's cat is called Miso"
        page.close()
