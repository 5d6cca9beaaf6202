"""The memory browser: server-rendered pages under /ui, no script, every asset in the package."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.applications import Starlette

from remembrancer.auth import Token, trusted_hosts
from remembrancer.browsing import Browser
from remembrancer.config import Settings
from remembrancer.service import MemoryService
from remembrancer.web.access import Gate
from remembrancer.web.routes import build


def ui_app(
    service: MemoryService, settings: Settings, tokens: Sequence[Token], *, lasting_sessions: bool = True
) -> Starlette:
    gate = Gate(tokens, trusted_hosts(settings), settings.port, lasting_sessions)
    return build(Browser(service), gate, settings.max_request_bytes)
