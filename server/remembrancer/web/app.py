"""The memory browser's plumbing: every page and form goes through ``guarded``, which checks
the Host, a form's origin and CSRF value, the session, and turns anticipated failures into a
page that says what was wrong. The pages themselves are in ``routes.py``."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from functools import cached_property
from importlib.resources import files
from typing import Any
from urllib.parse import parse_qsl, quote

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from remembrancer.browsing import Browser
from remembrancer.errors import InvalidInput, NotFound, RemembrancerError
from remembrancer.web.access import Gate, Visitor

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    # No script at all: memory text that holds markup can only ever be text.
    "content-security-policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}
STYLESHEET = files("remembrancer.web").joinpath("static/style.css").read_bytes()


class BadForm(InvalidInput):
    pass


class Refused(RemembrancerError):
    pass


def _when(value: datetime | None, zone: tzinfo) -> str:
    """A time in the zone dates are read in (REMEMBRANCER_TIMEZONE, or the machine's), named."""
    return "" if value is None else value.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def _size(count: int) -> str:
    amount = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if amount < 1024 or unit == "GB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{count} B"


def _templates(zone: tzinfo) -> Environment:
    found = Environment(loader=PackageLoader("remembrancer.web", "templates"), autoescape=select_autoescape())
    found.filters["when"] = lambda value: _when(value, zone)
    found.filters["size"] = _size
    found.filters["json_text"] = lambda value: json.dumps(value, ensure_ascii=False)  # escaped as text
    return found


def fields(raw: bytes) -> dict[str, str]:
    """Form or query fields, decoded strictly: invalid UTF-8 is refused, not replaced."""
    try:
        return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True, errors="strict"))
    except (UnicodeDecodeError, ValueError):
        raise BadForm(
            "the form or address held text that is not valid UTF-8; retype it and send again."
        ) from None


@dataclass
class Call:
    """One request, as a page sees it."""

    request: Request
    visitor: Visitor
    csrf: str
    form: dict[str, str] = field(default_factory=dict)

    @cached_property
    def query(self) -> dict[str, str]:
        return fields(self.request.scope.get("query_string", b""))

    @property
    def scopes(self) -> tuple[str, ...] | None:
        return self.visitor.scopes


Page = Callable[[Call], Awaitable[Response]]


class Site:
    def __init__(self, browser: Browser, gate: Gate, max_body: int) -> None:
        self.browser = browser
        self.gate = gate
        self.max_body = max_body
        self.templates = _templates(browser.service.settings.zone)

    def render(self, call: Call | None, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        context.setdefault("visitor", None if call is None else call.visitor)
        context.setdefault("csrf", "" if call is None else call.csrf)
        context.setdefault("open_access", self.gate.open)
        return HTMLResponse(self.templates.get_template(name).render(**context), status_code=status)

    def guarded(self, page: Page, *, login: bool = True) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            if not self.gate.host_trusted(request):
                host = request.headers.get("host", "")
                return self._finish(
                    request,
                    PlainTextResponse(
                        f"this server does not answer to the host {host!r}; add it to "
                        "REMEMBRANCER_ALLOWED_HOSTS if it is yours.",
                        status_code=421,
                    ),
                    "",
                )
            csrf = self.gate.csrf_value(request)
            began = time.perf_counter()
            try:
                call = await self._call(request, csrf, login)
                response = await page(call) if isinstance(call, Call) else call
            except Refused as exc:
                response = self.render(None, "error.html", 403, message=str(exc), csrf=csrf)
            except NotFound as exc:
                response = self.render(None, "error.html", 404, message=str(exc), csrf=csrf)
            except RemembrancerError as exc:
                response = self.render(None, "error.html", 400, message=str(exc), csrf=csrf)
            except Exception:
                log.exception("memory browser: %s %s failed", request.method, request.url.path)
                message = "something went wrong on the server; its log (stderr) says what."
                response = self.render(None, "error.html", 500, message=message, csrf=csrf)
            # The page's time on the server, for bench/ui.py (and a browser's developer tools).
            response.headers["server-timing"] = f"page;dur={(time.perf_counter() - began) * 1000:.1f}"
            return self._finish(request, response, csrf)

        return endpoint

    def _finish(self, request: Request, response: Response, csrf: str) -> Response:
        response.headers.update(SECURITY_HEADERS)
        if csrf and request.cookies.get(self.gate.csrf_cookie) != csrf:
            self.set_cookie(request, response, self.gate.csrf_cookie, csrf, None)
        return response

    @staticmethod
    def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int | None) -> None:
        """HttpOnly, SameSite=Strict, for /ui only; Secure when the page came over HTTPS."""
        secure = request.url.scheme == "https"
        response.set_cookie(name, value, max_age, httponly=True, samesite="strict", path="/ui", secure=secure)

    async def _call(self, request: Request, csrf: str, login: bool) -> Call | Response:
        form: dict[str, str] = {}
        if request.method == "POST":
            body = bytearray()
            async for chunk in request.stream():
                body += chunk
                if len(body) > self.max_body:
                    raise BadForm(f"the form is larger than {self.max_body} bytes; send less text.")
            form = fields(bytes(body))
            if not self.gate.same_origin(request) or not self.gate.csrf_matches(
                request, form.get("csrf", "")
            ):
                raise Refused(
                    "refused: this form was not sent from this site's own page (a cross-site request, or "
                    "an old page). Reload the page and send it again."
                )
        visitor = self.gate.visitor(request)
        if visitor is None:
            if not login:
                return Call(request, Visitor("", ()), csrf, form)
            if request.method == "POST":
                raise Refused("you are not logged in (or your session ended); log in and try again.")
            return RedirectResponse(f"/ui/login?next={quote(_path(request))}", status_code=303)
        return Call(request, visitor, csrf, form)


def _path(request: Request) -> str:
    query = request.scope.get("query_string", b"").decode("latin-1")
    return request.url.path + (f"?{query}" if query else "")


def stylesheet(request: Request) -> Response:
    return Response(STYLESHEET, media_type="text/css", headers={"cache-control": "max-age=3600"})


def redirect(location: str, headers: Mapping[str, str] | None = None) -> RedirectResponse:
    return RedirectResponse(location, status_code=303, headers=headers)
