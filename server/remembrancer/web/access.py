"""Who is asking, and whether a browser request may be trusted.

- A person enters a token once; the page keeps a signed session cookie (HttpOnly,
  SameSite=Strict, path /ui), not the token: ``NAME.EXPIRES.HMAC(token, NAME.EXPIRES)``. Any
  server with the same tokens accepts it (no state per process), and removing a token from
  the tokens file ends its sessions.
- Every form carries a random value that must equal the browser's CSRF cookie (double submit),
  and a browser's Origin (and Sec-Fetch-Site), when sent, must say this very origin: a page
  elsewhere can neither read the cookie nor, with SameSite=Strict, make the browser send it.
- Host must be a trusted host, as for /mcp (DNS rebinding).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.requests import Request

from remembrancer.auth import Token

SESSION_SECONDS = 30 * 24 * 3600
_EXPIRY = re.compile(r"[0-9]{1,12}")


@dataclass(frozen=True)
class Visitor:
    """A person allowed in: with a token's scopes (None: every scope)."""

    name: str
    scopes: tuple[str, ...] | None

    @property
    def actor(self) -> str:
        return f"ui:{self.name}"


def _signature(secret: str, payload: str) -> str:
    digest = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _host_name(host_and_port: str) -> str:
    if host_and_port.startswith("["):  # [::1]:8765
        return host_and_port.split("]", 1)[0] + "]"
    return host_and_port.rsplit(":", 1)[0] if host_and_port.count(":") == 1 else host_and_port


class Gate:
    """``port`` names the cookies: browsers share cookies between the ports of one host, and
    `remembrancer ui` beside `serve` must not sign each other out. ``lasting``: sessions survive
    the browser's restart (30 days); `ui`'s end with the browser session."""

    def __init__(self, tokens: Sequence[Token], hosts: set[str], port: int, lasting: bool = True) -> None:
        self.tokens = list(tokens)
        self.hosts = hosts
        self.session_cookie = f"remembrancer_session_{port}"
        self.csrf_cookie = f"remembrancer_csrf_{port}"
        self.max_age = SESSION_SECONDS if lasting else None

    @property
    def open(self) -> bool:
        """No token configured: loopback with access left open (--no-auth)."""
        return not self.tokens

    def login(self, offered: str) -> Token | None:
        found = None
        for token in self.tokens:  # no early exit, as for bearer tokens
            if hmac.compare_digest(offered.encode(), token.secret.encode()):
                found = token
        return found

    def session_value(self, token: Token) -> str:
        payload = f"{token.name}.{int(time.time()) + SESSION_SECONDS}"
        return f"{payload}.{_signature(token.secret, payload)}"

    def visitor(self, request: Request) -> Visitor | None:
        """The person this request comes from, or None when they must log in."""
        if self.open:
            return Visitor("local", None)
        parts = request.cookies.get(self.session_cookie, "").rsplit(".", 2)  # a name may hold dots
        if len(parts) != 3 or not _EXPIRY.fullmatch(parts[1]) or int(parts[1]) < time.time():
            return None  # absent, malformed or expired: not signed in, whatever it holds
        name, expires, signature = parts
        for token in self.tokens:
            expected = _signature(token.secret, f"{name}.{expires}")
            if token.name == name and hmac.compare_digest(signature.encode(), expected.encode()):
                return Visitor(token.name, token.scopes)
        return None

    def host_trusted(self, request: Request) -> bool:
        return _host_name(request.headers.get("host", "")) in self.hosts

    def same_origin(self, request: Request) -> bool:
        """False for a request a browser says came from another origin, another port included
        (127.0.0.1:8000 is the same *site* as 127.0.0.1:8766, so SameSite alone lets it by)."""
        if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
            return False
        origin = request.headers.get("origin")
        return origin is None or urlsplit(origin).netloc == request.headers.get("host")

    def csrf_value(self, request: Request) -> str:
        return request.cookies.get(self.csrf_cookie) or secrets.token_urlsafe(24)

    def csrf_matches(self, request: Request, sent: str) -> bool:
        kept = request.cookies.get(self.csrf_cookie, "")
        return bool(kept) and hmac.compare_digest(kept.encode(), sent.encode())
