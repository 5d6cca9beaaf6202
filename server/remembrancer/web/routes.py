"""The memory browser's pages and forms, each a thin adapter over ``Browser`` and the service.

Every page works with plain links and forms (no script anywhere), so it works with JavaScript
turned off. A change answers with a redirect (POST, then GET), whose ``done`` names one of a
few fixed notices: nothing a link could carry is shown as a message.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterator
from itertools import islice
from typing import TypeVar
from urllib.parse import urlencode

import anyio.to_thread
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from remembrancer.auth import Token
from remembrancer.browsing import Browse, Browser
from remembrancer.errors import InvalidInput, NotFound
from remembrancer.web.access import Gate
from remembrancer.web.app import Call, Site, redirect, stylesheet
from remembrancer.web.charts import bars, colour, stacked_months

T = TypeVar("T")
NOTICES = {
    "edited": "Saved. The old text is in the history, and can be put back with undo.",
    "unchanged": "Nothing to save: the text is the same.",
    "forgotten": "Forgotten: the memory, its vector and its wording everywhere in the history are gone.",
    "kept": "Kept as it is; it no longer waits for review.",
    "undone": "Undone.",
    "out": "Logged out.",
}
STATUSES = ("live", "review", "superseded", "all")
KEY, LARGEST_KEY = re.compile(r"[0-9]{1,19}"), 2**63 - 1


async def _run(work: Callable[[], T]) -> T:
    """Store and model work off the event loop."""
    return await anyio.to_thread.run_sync(work)


def _key(text: str, what: str) -> int:
    """A page key or an event number as a link carries it; anything else is refused in one line."""
    if not KEY.fullmatch(text) or int(text) > LARGEST_KEY:
        raise InvalidInput(
            f"{what} {text[:40]!r} is not one this site made; follow a link or the form again."
        )
    return int(text)


def _browse(query: dict[str, str]) -> Browse:
    known = {name: value.strip() for name, value in query.items() if name in Browse.model_fields}
    before = known.pop("before", "")
    try:
        return Browse.model_validate({**known, "before": _key(before, "the page key") if before else None})
    except ValidationError:
        statuses = ", ".join(STATUSES)
        raise InvalidInput(f"the list's filters were not understood; status is one of {statuses}.") from None


def build(browser: Browser, gate: Gate, max_body: int) -> Starlette:
    site = Site(browser, gate, max_body)

    async def listing(call: Call) -> Response:
        asked = _browse(call.query)
        page = await _run(lambda: browser.page(asked, call.scopes))
        kept = {k: v for k, v in asked.model_dump(exclude={"before"}).items() if v}
        next_link = None
        if page.next_before is not None:
            next_link = "/ui?" + urlencode({**kept, "before": page.next_before})
        return site.render(
            call,
            "list.html",
            page=page,
            asked=asked,
            statuses=STATUSES,
            next_link=next_link,
            notice=NOTICES.get(call.query.get("done", "")),
            several_scopes=len(page.scopes) > 1,
        )

    async def memory(call: Call) -> Response:
        memory_id = call.request.path_params["memory_id"]
        view = await _run(lambda: browser.memory(memory_id, call.scopes))
        return site.render(call, "memory.html", view=view, notice=NOTICES.get(call.query.get("done", "")))

    async def edit(call: Call) -> Response:
        memory_id = call.request.path_params["memory_id"]
        content = call.form.get("content", "")
        try:
            changed = await _run(lambda: browser.edit(memory_id, content, call.visitor.actor, call.scopes))
        except InvalidInput as exc:  # the page again, with what was typed and what was wrong with it
            view = await _run(lambda: browser.memory(memory_id, call.scopes))
            return site.render(call, "memory.html", 400, view=view, draft=content, problem=str(exc))
        return redirect(f"/ui/memory/{memory_id}?done={'edited' if changed else 'unchanged'}")

    async def confirm_forget(call: Call) -> Response:
        memory_id = call.request.path_params["memory_id"]
        view = await _run(lambda: browser.memory(memory_id, call.scopes))
        return site.render(call, "forget.html", view=view)

    async def forget(call: Call) -> Response:
        memory_id = call.request.path_params["memory_id"]
        if call.form.get("confirm") != "yes":
            raise InvalidInput("forgetting needs the confirmation box ticked; nothing was forgotten.")
        await _run(lambda: browser.service.forget([memory_id], actor=call.visitor.actor, scopes=call.scopes))
        return redirect("/ui?done=forgotten")

    async def keep(call: Call) -> Response:
        memory_id = call.request.path_params["memory_id"]
        await _run(lambda: browser.keep(memory_id, call.visitor.actor, call.scopes))
        return redirect("/ui?status=review&done=kept")

    async def undo(call: Call) -> Response:
        event_id = _key(call.request.path_params["event_id"], "the event")

        def work() -> tuple[str, bool]:
            memory_id = browser.event_memory(event_id, call.scopes)
            browser.service.undo(event_id, actor=call.visitor.actor)
            return memory_id, memory_id in browser.store.get_by_ids([memory_id])

        memory_id, still_there = await _run(work)
        return redirect(f"/ui/memory/{memory_id}?done=undone" if still_there else "/ui?done=undone")

    async def stats(call: Call) -> Response:
        activity = await _run(lambda: browser.activity(call.scopes))
        return site.render(
            call,
            "stats.html",
            activity=activity,
            months_chart=stacked_months(activity.months, activity.per_scope),
            decisions_chart=bars(activity.decisions, "Decisions by kind"),
            colours={scope: colour(i) for i, scope in enumerate(activity.per_scope)},
        )

    async def export(call: Call) -> Response:
        lines = browser.export_lines(call.scopes)
        return StreamingResponse(
            _in_thread(lines),
            media_type="application/x-ndjson",
            headers={"content-disposition": 'attachment; filename="remembrancer-export.jsonl"'},
        )

    async def login_page(call: Call) -> Response:
        if site.gate.open:
            return redirect("/ui")
        offered = call.query.get("token")
        if offered is not None and site.gate.same_origin(call.request):  # the address `ui` prints
            signed = _signed_in(call, site.gate.login(offered), "/ui")
            return signed or site.render(call, "login.html", 401, next="/ui", failed=True)
        notice = NOTICES.get(call.query.get("done", ""))
        target = _local(call.query.get("next", "/ui"))
        return site.render(call, "login.html", next=target, failed=False, notice=notice)

    async def login(call: Call) -> Response:
        target = _local(call.form.get("next", "/ui"))
        response = _signed_in(call, site.gate.login(call.form.get("token", "").strip()), target)
        return response or site.render(call, "login.html", 401, next=target, failed=True)

    def _signed_in(call: Call, token: Token | None, target: str) -> Response | None:
        if token is None:
            return None
        response = redirect(target)
        session = site.gate.session_value(token)
        site.set_cookie(call.request, response, site.gate.session_cookie, session, site.gate.max_age)
        return response

    async def logout(call: Call) -> Response:
        response = redirect("/ui/login?done=out")
        response.delete_cookie(site.gate.session_cookie, path="/ui")
        return response

    async def review(call: Call) -> Response:
        return redirect("/ui?status=review")

    async def unknown(call: Call) -> Response:
        raise NotFound("there is no such page here; the list of memories is at /ui.")

    routes = [
        Route("/ui", site.guarded(listing)),
        Route("/ui/", site.guarded(listing)),
        Route("/ui/review", site.guarded(review)),
        Route("/ui/stats", site.guarded(stats)),
        Route("/ui/export", site.guarded(export)),
        Route("/ui/memory/{memory_id}", site.guarded(memory)),
        Route("/ui/memory/{memory_id}/edit", site.guarded(edit), methods=["POST"]),
        Route("/ui/memory/{memory_id}/forget", site.guarded(confirm_forget)),
        Route("/ui/memory/{memory_id}/forget", site.guarded(forget), methods=["POST"]),
        Route("/ui/memory/{memory_id}/keep", site.guarded(keep), methods=["POST"]),
        Route("/ui/undo/{event_id}", site.guarded(undo), methods=["POST"]),
        Route("/ui/login", site.guarded(login_page, login=False)),
        Route("/ui/login", site.guarded(login, login=False), methods=["POST"]),
        Route("/ui/logout", site.guarded(logout, login=False), methods=["POST"]),
        Route("/ui/static/style.css", stylesheet),
        Route("/ui/{rest:path}", site.guarded(unknown), methods=["GET", "POST"]),
    ]
    return Starlette(routes=routes)


def _local(target: str) -> str:
    """Only a path on this site: a login must not send a person elsewhere."""
    return target if target.startswith("/ui") and not target.startswith("//") else "/ui"


async def _in_thread(lines: Iterator[str], batch: int = 500) -> AsyncIterator[str]:
    """Stream a long export without holding it whole, reading it off the event loop."""
    while chunk := await _run(lambda: "".join(islice(lines, batch))):
        yield chunk
