"""The commands that serve: ``serve`` (MCP, with the memory browser beside it over HTTP) and
``ui`` (the memory browser alone, on loopback)."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import secrets
import sys
import threading
import webbrowser
from collections.abc import Iterator
from contextlib import contextmanager

from remembrancer.cli_support import require_store
from remembrancer.config import Settings
from remembrancer.errors import ConfigError
from remembrancer.service import MemoryService

log = logging.getLogger("remembrancer")
TRANSPORTS = {"stdio": "stdio", "http": "streamable-http", "streamable-http": "streamable-http", "sse": "sse"}
UI_PORT = 8766  # beside `serve --transport http` on 8765


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Importing the MCP SDK builds about 600 pydantic models, and the cyclic garbage collector
    would run hundreds of times over them for nothing: pausing it cuts start-up by about a
    tenth. What start-up made lives as long as the process, so it is frozen out of later
    collections."""
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    transport = TRANSPORTS[args.transport]
    with _collector_paused():
        from remembrancer.auth import load_tokens
        from remembrancer.embeddings import FastEmbedder
        from remembrancer.server import build_server
        from remembrancer.serving import check_exposure, check_stateless, serve_http
        from remembrancer.stdio_transport import serve_stdio

        check_stateless(settings, transport)
        tokens = load_tokens(settings) if transport != "stdio" else []
        if transport != "stdio":
            check_exposure(settings, tokens)  # before anything is opened or loaded
        embedder = FastEmbedder(settings.embedding_model)
        service = MemoryService.open(settings, embedder)
        server = build_server(service, actor=f"mcp-{args.transport}", tokens=tokens)
    embedder.start_loading()
    service.start_background_work()
    log.info("memory store: %s", service.store.path)
    try:
        if transport == "stdio":
            serve_stdio(server)
        else:
            from remembrancer.web import ui_app  # templates and Starlette: not on the stdio path

            serve_http(server, settings, transport, tokens, ui_app(service, settings, tokens))
    finally:
        embedder.finish_loading()
        service.close()
    return 0


def cmd_ui(args: argparse.Namespace, settings: Settings) -> int:
    """The memory browser on loopback. Without a configured token, a token made for this run
    only is in the printed address, so no other user of the machine can open the page."""
    from remembrancer.auth import Token, load_tokens
    from remembrancer.embeddings import FastEmbedder
    from remembrancer.serving import LOOPBACK, bind, run_asgi, url_host
    from remembrancer.web import ui_app

    if settings.host not in LOOPBACK:
        raise ConfigError(
            f"`remembrancer ui` serves on loopback only, not {settings.host}; to reach the memory browser "
            "from elsewhere, run `remembrancer serve --transport http` with a token and open /ui."
        )
    require_store(settings)
    settings = settings.with_overrides(port=args.port or UI_PORT)
    tokens = load_tokens(settings)
    login = ""
    if not tokens:
        tokens = [Token("local", secrets.token_urlsafe(32), None)]
        login = f"/login?token={tokens[0].secret}"
    listening = bind(settings.host, settings.port)
    embedder = FastEmbedder(settings.embedding_model)
    service = MemoryService.open(settings, embedder)
    embedder.start_loading()
    service.start_background_work()
    url = f"http://{url_host(settings.host)}:{settings.port}/ui{login}"
    print(url, flush=True)
    print("Remembrancer's memory browser is open at the address above. Stop with Ctrl-C.", file=sys.stderr)
    if not args.no_browser and _has_browser():
        threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
    try:
        run_asgi(ui_app(service, settings, tokens, lasting_sessions=False), settings, listening)
    finally:
        embedder.finish_loading()
        service.close()
    return 0


def _has_browser() -> bool:
    """A browser could show the page: one is named, there is a screen, or a desktop OS."""
    named = os.environ.get("BROWSER") or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    return bool(named) or sys.platform in ("darwin", "win32")
