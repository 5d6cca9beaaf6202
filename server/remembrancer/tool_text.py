"""How tool results reach an assistant's context: structured content without empty fields or
long timestamps, and a text rendering of one line per memory that a model reads at a glance."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from remembrancer.models import ForgetResult, RecallResult, RememberResult
from remembrancer.recall_lines import recall_lines

_TIMESTAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?(?:Z|\+00:00)$")


def _empty(value: Any) -> bool:
    return value is None or value is False or (isinstance(value, (list, dict, str)) and not value)


#: Fields holding the caller's own JSON: passed on exactly as given (only left out when empty).
_VERBATIM = frozenset({"metadata"})


def _short_time(value: Any) -> Any:
    """A UTC timestamp to the second (the microseconds stay in the store)."""
    moment = _TIMESTAMP.match(value) if isinstance(value, str) else None
    return value if moment is None else f"{moment.group(1)}Z"


def _pruned(value: Any) -> Any:
    if isinstance(value, dict):
        kept = {
            key: item if key in _VERBATIM else _short_time(item) if key.endswith("_at") else _pruned(item)
            for key, item in value.items()
        }
        if kept.get("occurred_at") is not None and kept.get("occurred_at") == kept.get("created_at"):
            del kept["occurred_at"]  # happened when stored: said once
        return {key: item for key, item in kept.items() if not _empty(item)}
    if isinstance(value, list):
        return [_pruned(item) for item in value]
    return value


def compact(result: BaseModel) -> dict[str, Any]:
    """The result as JSON without nulls, empty lists, objects and strings, or false flags
    (a required field stays, e.g. an empty list of hits)."""
    full = result.model_dump(mode="json")
    pruned: dict[str, Any] = _pruned(full)
    required = [name for name, field in type(result).model_fields.items() if field.is_required()]
    return {**{name: _pruned(full[name]) for name in required}, **pruned}


def recall_text(result: RecallResult) -> str:
    return "\n".join(recall_lines(result.hits, result.notes, len(result.scopes) > 1))


def remember_text(result: RememberResult) -> str:
    outcomes = result.facts if result.status == "split" else [result]
    lines = []
    for outcome in outcomes:
        memory = outcome.memory
        assert memory is not None
        line = f"{outcome.status} {memory.id}: {memory.content}"
        if outcome.replaces or outcome.superseded:
            line += f" (replaces {', '.join([*outcome.replaces, *outcome.superseded])})"
        lines.append(f"{line} - {outcome.reason}" if outcome.reason else line)
    return "\n".join(lines)


def forget_text(result: ForgetResult) -> str:
    return f"forgotten: {', '.join(result.forgotten)}"
