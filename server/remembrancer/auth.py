"""Bearer tokens for the HTTP transports, each optionally limited to a set of scopes.

Tokens come from ``REMEMBRANCER_AUTH_TOKEN`` (one token, every scope) and/or a tokens file
(``REMEMBRANCER_AUTH_TOKENS_FILE``, mode 0600), one token a line::

    # name   token                              scopes (comma-separated; none = every scope)
    alice    3f9c...long random string...       alice,team
    admin    8d21...long random string...

A restricted token's first scope is its default scope. Tokens are compared in constant time
and never logged; a request without a valid token gets 401 before it reaches the server.
"""

from __future__ import annotations

import hmac
import json
import stat
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from remembrancer.config import Settings
from remembrancer.errors import ConfigError, InvalidInput
from remembrancer.validation import check_scope

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
MIN_TOKEN_LENGTH = 16


def trusted_hosts(settings: Settings) -> set[str]:
    """Host names a request may name (Host, Origin): loopback, the address served, and
    REMEMBRANCER_ALLOWED_HOSTS; any other is refused, against DNS rebinding."""
    hosts = {"127.0.0.1", "localhost", "[::1]"}
    if settings.host not in ("127.0.0.1", "localhost", "::1", "0.0.0.0", "::"):
        hosts.add(settings.host)
    hosts.update(name.strip() for name in settings.allowed_hosts.split(",") if name.strip())
    return hosts


@dataclass(frozen=True)
class Token:
    name: str
    secret: str
    scopes: tuple[str, ...] | None  # None: every scope

    def __repr__(self) -> str:  # never show the secret, even in a traceback
        return f"Token(name={self.name!r}, scopes={self.scopes!r})"


def _read_tokens_file(path: Path) -> list[Token]:
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError(f"cannot read the tokens file {path}: {exc.strerror}.") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"the tokens file {path} can be read by other users; run `chmod 600 {path}` and start again."
        )
    tokens = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        if len(fields) not in (2, 3):
            raise ConfigError(f"{path} line {number}: expected 'NAME TOKEN [SCOPE,SCOPE...]'.")
        scopes = tuple(check_scope(s) for s in fields[2].split(",") if s) if len(fields) == 3 else None
        tokens.append(Token(fields[0], fields[1], scopes or None))
    return tokens


def load_tokens(settings: Settings) -> list[Token]:
    tokens = []
    if settings.auth_token:
        tokens.append(Token("token", settings.auth_token, None))
    if settings.auth_tokens_file is not None:
        tokens.extend(_read_tokens_file(Path(settings.auth_tokens_file).expanduser()))
    for token in tokens:
        if len(token.secret) < MIN_TOKEN_LENGTH:
            raise ConfigError(
                f"token {token.name!r} is shorter than {MIN_TOKEN_LENGTH} characters; use a long random one, "
                'e.g. python -c "import secrets; print(secrets.token_urlsafe(32))".'
            )
    return tokens


def find_token(tokens: Sequence[Token], authorization: str | None) -> Token | None:
    """The token this Authorization header carries, compared in constant time against all."""
    if not authorization or not authorization.lower().startswith("bearer "):
        return None
    offered = authorization[7:].strip().encode()
    found = None
    for token in tokens:  # no early exit: the time taken does not say which token matched
        if hmac.compare_digest(offered, token.secret.encode()):
            found = token
    return found


class Access:
    """What one caller may do: every scope (stdio, auth off) or a token's scopes."""

    def __init__(self, scopes: tuple[str, ...] | None) -> None:
        self.scopes = scopes

    @classmethod
    def for_headers(cls, tokens: Sequence[Token], headers: Mapping[str, str] | None) -> Access:
        if not tokens or headers is None:  # stdio, or HTTP with auth explicitly off
            return cls(None)
        token = find_token(tokens, headers.get("authorization"))
        if token is None:  # the middleware lets no such request through; refuse all the same
            return cls(())
        return cls(token.scopes)

    @property
    def restricted(self) -> bool:
        return self.scopes is not None

    def default_scope(self, configured: str) -> str:
        return configured if not self.scopes else self.scopes[0]

    def check(self, scope: str | Sequence[str] | None, configured: str) -> str | list[str]:
        """The scope(s) to use; refuses any this caller may not use, saying nothing of its contents."""
        if scope is None:
            return self.default_scope(configured)
        names = [scope] if isinstance(scope, str) else list(scope)
        if self.scopes is not None:
            for name in names:
                if name not in self.scopes:
                    allowed = ", ".join(self.scopes) or "none"
                    raise InvalidInput(f"this token may not use scope {name!r}; it may use: {allowed}.")
        return scope if isinstance(scope, str) else names


class BearerAuth:
    """ASGI middleware: HTTP requests need a valid bearer token; lifespan events pass through."""

    def __init__(self, app: ASGIApp, tokens: Sequence[Token]) -> None:
        self.app = app
        self.tokens = list(tokens)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]}
        if find_token(self.tokens, headers.get("authorization")) is None:
            body = json.dumps(
                {
                    "error": "unauthorized",
                    "message": "send 'Authorization: Bearer <token>' with a valid token",
                }
            ).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"www-authenticate", b'Bearer realm="remembrancer"'),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)
