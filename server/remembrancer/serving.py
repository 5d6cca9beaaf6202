"""Serving MCP over HTTP (streamable HTTP or SSE): access control, Host checks, body limits."""

from __future__ import annotations

import errno
import socket
import sys

from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings

from remembrancer.auth import ASGIApp, BearerAuth, Receive, Scope, Send, Token, trusted_hosts
from remembrancer.config import Settings
from remembrancer.errors import ConfigError, InvalidInput

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def check_exposure(settings: Settings, tokens: list[Token]) -> None:
    """Refuse to serve memories to whoever can reach the port."""
    if tokens:
        return
    if settings.host not in LOOPBACK:
        raise ConfigError(
            f"refusing to serve on {settings.host} without a token: anyone who can reach the port could read "
            "every memory. Set REMEMBRANCER_AUTH_TOKEN (e.g. to the output of "
            '`python -c "import secrets; print(secrets.token_urlsafe(32))"`) '
            "or REMEMBRANCER_AUTH_TOKENS_FILE."
        )
    if settings.auth != "off":
        raise ConfigError(
            "no token is configured. Set REMEMBRANCER_AUTH_TOKEN or REMEMBRANCER_AUTH_TOKENS_FILE, or, on "
            "loopback only, leave access open explicitly with --no-auth (or REMEMBRANCER_AUTH=off)."
        )


def check_stateless(settings: Settings, transport: str) -> None:
    if settings.stateless and transport != "streamable-http":
        raise ConfigError(
            "--stateless is for --transport http: an SSE stream or a stdio pipe belongs to one server"
            " process (pin each SSE client to one server at the proxy, or use --transport http --stateless)."
        )


def _security(settings: Settings) -> TransportSecuritySettings:
    """Host and Origin checks against DNS rebinding, on every address we bind."""
    hosts = trusted_hosts(settings)
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[f"{host}:*" for host in sorted(hosts)],
        allowed_origins=[f"{scheme}://{host}:*" for host in sorted(hosts) for scheme in ("http", "https")],
    )


def serve_http(
    server: MCPServer, settings: Settings, transport: str, tokens: list[Token], ui: ASGIApp
) -> None:
    """The MCP endpoint, and the memory browser under /ui, on one port."""
    check_exposure(settings, tokens)
    check_stateless(settings, transport)
    if transport == "sse":
        app = server.sse_app(
            max_request_body_size=settings.max_request_bytes,
            transport_security=_security(settings),
            host=settings.host,
        )
        path = "/sse"
    else:
        app = server.streamable_http_app(
            stateless_http=settings.stateless,
            max_request_body_size=settings.max_request_bytes,
            transport_security=_security(settings),
            host=settings.host,
        )
        path = "/mcp"
    listening = bind(settings.host, settings.port)  # before saying anything: the port may be taken
    base = f"http://{url_host(settings.host)}:{settings.port}"
    url = f"{base}{path}"
    kind = "http" if path == "/mcp" else "sse"
    access = "a bearer token is required" if tokens else "no token required (loopback only, --no-auth)"
    header = ' --header "Authorization: Bearer $TOKEN"' if tokens else ""
    print(
        f"Remembrancer is serving {transport} at {url} ({access})\n"
        f"  Claude Code:     claude mcp add --transport {kind} remembrancer {url}{header}\n"
        f"  Inspector:       npx @modelcontextprotocol/inspector  (then connect to {url})\n"
        f"  Memory browser:  {base}/ui\n"
        "  Stop with Ctrl-C.",
        file=sys.stderr,
        flush=True,
    )
    mcp = BearerAuth(app, tokens) if tokens else app
    run_asgi(UiBeside(ui, mcp), settings, listening)


class UiBeside:
    """Paths under /ui go to the memory browser (its own sign-in); everything else to MCP."""

    def __init__(self, ui: ASGIApp, mcp: ASGIApp) -> None:
        self.ui = ui
        self.mcp = mcp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == "/ui" or path.startswith("/ui/")):
            await self.ui(scope, receive, send)
        else:
            await self.mcp(scope, receive, send)


def run_asgi(app: ASGIApp, settings: Settings, listening: socket.socket) -> None:
    import anyio
    import uvicorn

    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning")
    anyio.run(lambda: uvicorn.Server(config).serve(sockets=[listening]))


def url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound as uvicorn would bind it, or a clear error if it cannot be."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET  # uvicorn's own rule
    address = (host, port)
    # IPPROTO_TCP named: asyncio then sets TCP_NODELAY on each accepted connection (it checks the
    # protocol number), without which a response written in two parts waits ~40 ms for an ACK.
    listening = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listening.bind(address)
    except OSError as exc:
        listening.close()
        if exc.errno == errno.EADDRINUSE:
            raise InvalidInput(
                f"port {port} on {host} is already in use (another server?); choose another with --port "
                "or REMEMBRANCER_PORT."
            ) from None
        raise InvalidInput(f"cannot listen on {host}:{port}: {exc.strerror or exc}; check --host.") from None
    listening.listen(2048)  # from now on a client may connect: it waits until the server accepts
    listening.set_inheritable(True)
    return listening
