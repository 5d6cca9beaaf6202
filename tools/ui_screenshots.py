"""Screenshots of the memory browser for the README (docs/screenshots/*.png): a small demo
store, a real `remembrancer ui` process, Debian's Chromium driven by Playwright.

    .venv/bin/python tools/ui_screenshots.py
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
SCRIPT = Path(sys.executable).parent / "remembrancer"
DEMO = [
    ("I live in Berlin", "default", "2025-03-02T10:00:00", []),
    ("My favourite editor is Neovim", "default", "2025-04-11T09:30:00", ["preference"]),
    ("I am allergic to peanuts", "default", "2025-05-20T19:00:00", ["health"]),
    ("The team deploys to production every Friday", "atlas", "2025-06-03T14:00:00", ["process"]),
    ("Atlas uses PostgreSQL 17 with pgvector", "atlas", "2025-07-15T11:00:00", ["decision"]),
    ("Code review needs two approvals on main", "atlas", "2025-08-01T16:00:00", ["process"]),
    ("I live in Munich now", "default", "2025-09-09T08:00:00", []),
    ("Our CI runs on GitHub Actions", "atlas", "2025-10-21T12:00:00", []),
]


def cli(db: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run([str(SCRIPT), *args, "--db", str(db)], capture_output=True, text=True, env=env)
    if done.returncode:
        sys.exit(done.stderr)
    return done.stdout


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "memory.db"
        env = {k: v for k, v in os.environ.items() if not k.startswith("REMEMBRANCER_")}
        env["XDG_DATA_HOME"] = tmp
        # An LLM judge that cannot be reached: the fact that needed it waits for review.
        unreachable = {
            **env,
            "REMEMBRANCER_LLM_API_KEY": "sk-demo",
            "REMEMBRANCER_LLM_BASE_URL": "http://127.0.0.1:9",
        }
        for text, scope, when, tags in DEMO:
            tag_args = [arg for tag in tags for arg in ("--tag", tag)]
            judged = unreachable if "Munich" in text else env
            cli(db, judged, "remember", text, "--scope", scope, "--occurred-at", when, *tag_args)
        berlin = json.loads(cli(db, env, "list", "--json", "--limit", "50"))
        moved = next(m["id"] for m in berlin if m["content"] == "I live in Berlin")
        server = subprocess.Popen(
            [str(SCRIPT), "ui", "--db", str(db), "--port", "8779", "--no-browser"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        try:
            assert server.stdout is not None
            url = server.stdout.readline().decode().strip()
            base = url.split("/ui")[0]
            chromium = shutil.which("chromium") or "/usr/bin/chromium"
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=chromium,
                    args=[
                        "--no-sandbox",
                        "--disable-gpu",
                        "--disable-background-networking",
                        "--no-first-run",
                    ],
                )
                page = browser.new_page(viewport={"width": 1100, "height": 720})
                page.goto(url)
                page.screenshot(path=OUT / "list.png", full_page=True)
                page.goto(f"{base}/ui?q=which+city+do+I+live+in")
                page.screenshot(path=OUT / "search.png", full_page=True)
                page.goto(f"{base}/ui/memory/{moved}")
                page.get_by_label("Text").fill("I lived in Berlin until 2025")
                page.get_by_role("button", name="Save").click()
                page.screenshot(path=OUT / "memory.png", full_page=True)
                page.goto(f"{base}/ui/memory/{moved}/forget")
                page.screenshot(path=OUT / "forget.png", full_page=True)
                page.goto(f"{base}/ui?status=review")
                page.screenshot(path=OUT / "review.png", full_page=True)
                page.goto(f"{base}/ui/stats")
                page.screenshot(path=OUT / "stats.png", full_page=True)
                stranger = browser.new_page(viewport={"width": 1100, "height": 480})  # no session yet
                stranger.goto(f"{base}/ui")
                stranger.screenshot(path=OUT / "login.png")
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=10)
    print(f"screenshots in {OUT.relative_to(ROOT)}: {', '.join(sorted(p.name for p in OUT.glob('*.png')))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
