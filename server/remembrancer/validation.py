"""Checks on what callers send, each failing with a message that says what to fix."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from remembrancer.config import SCOPE_PATTERN, SCOPE_RULE, Settings
from remembrancer.errors import InvalidInput

_SCOPE = re.compile(SCOPE_PATTERN)
_MEMORY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
# Letters (with combining marks), digits, spaces and a few marks; the first must be a letter or digit.
_TAG = re.compile(r"[^\W_][\w\u0300-\u036f\u0900-\u0dff\u0610-\u065f .:/+#-]{0,63}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Lone UTF-16 surrogates (bytes that were not UTF-8, or a broken "\ud800" escape) and the
# noncharacters U+FDD0-U+FDEF, U+FFFE, U+FFFF (stdio_guard.py marks broken escapes with one).
_NOT_TEXT = re.compile("[\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]")
_WHITESPACE = re.compile(r"\s+")
MAX_METADATA_DEPTH = 8
MAX_QUERY_CHARS = 4_000


def normalise_for_hash(content: str) -> str:
    """Case, width and spacing do not make a different fact."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFKC", content)).strip().casefold()


def content_hash(content: str) -> str:
    return hashlib.sha256(normalise_for_hash(content).encode("utf-8")).hexdigest()


def _reject_control(text: str, what: str) -> None:
    broken = _NOT_TEXT.search(text)
    if broken:
        raise InvalidInput(
            f"{what} is not valid text at position {broken.start()} (a lone UTF-16 surrogate or a "
            "noncharacter, as left by bytes that are not UTF-8); send it as valid UTF-8."
        )
    match = _CONTROL.search(text)
    if match:
        raise InvalidInput(
            f"{what} contains the control character U+{ord(match.group()):04X} at position {match.start()}; "
            "remove it (tabs and newlines are fine)."
        )


def check_content(content: str, settings: Settings) -> str:
    if not isinstance(content, str):
        raise InvalidInput("content must be a string.")
    text = content.strip()
    if not text:
        raise InvalidInput("content is empty; pass the fact to remember as a non-empty sentence.")
    _reject_control(text, "content")
    size = len(text.encode("utf-8"))
    if size > settings.max_content_bytes:
        raise InvalidInput(
            f"content is {size} bytes; the limit is {settings.max_content_bytes} "
            "(REMEMBRANCER_MAX_CONTENT_BYTES). Store a shorter summary, or split it into several facts."
        )
    return text


def check_query(query: str) -> str:
    text = query.strip() if isinstance(query, str) else ""
    if not text:
        raise InvalidInput("query is empty; describe what you are looking for in a few words.")
    _reject_control(text, "query")
    if len(text) > MAX_QUERY_CHARS:
        raise InvalidInput(f"query is {len(text)} characters; keep it under {MAX_QUERY_CHARS}.")
    return text


def check_scope(scope: str) -> str:
    if not isinstance(scope, str) or not _SCOPE.fullmatch(scope):
        raise InvalidInput(
            f"scope {scope!r} is not a valid scope name: {SCOPE_RULE} (e.g. 'default' or 'my-project')."
        )
    return scope


def check_id(memory_id: str) -> str:
    """An imported id: it goes into the browser's links and the history as it is."""
    if not _MEMORY_ID.fullmatch(memory_id):
        raise InvalidInput(
            f"id {memory_id[:80]!r} is not a valid memory id: use 1-128 letters, digits and _ . : -, "
            "starting with a letter or digit (e.g. 'm_3f9a1c2b7d4e6a80' or a UUID)."
        )
    return memory_id


def check_lookup_id(memory_id: str) -> str:
    """An id to look up (forget, history): any text, since a store may hold ids imported before
    ``check_id`` existed, but text it must be."""
    if not isinstance(memory_id, str) or not memory_id.strip():
        raise InvalidInput("a memory id is empty; pass the id that recall or list shows (m_...).")
    _reject_control(memory_id, f"id {memory_id[:80]!r}")
    return memory_id


def check_scopes(scopes: str | Sequence[str] | None, default: str) -> tuple[str, ...]:
    if scopes is None:
        return (default,)
    names = [scopes] if isinstance(scopes, str) else list(scopes)
    if not names:
        raise InvalidInput(
            "scope list is empty; name at least one scope, or leave scope out for the default."
        )
    if len(names) > 16:
        raise InvalidInput(f"{len(names)} scopes asked for; at most 16 at once.")
    return tuple(dict.fromkeys(check_scope(name) for name in names))


def check_tags(tags: Iterable[str] | None, settings: Settings) -> list[str]:
    if tags is None:
        return []
    if isinstance(tags, str):
        raise InvalidInput('tags must be a list of strings, e.g. ["preference", "project"].')
    cleaned: list[str] = []
    for tag in tags:
        if not isinstance(tag, str):
            raise InvalidInput(f"tag {tag!r} is not a string; tags must be a list of short strings.")
        value = unicodedata.normalize("NFC", tag.strip().lower())
        if not _TAG.fullmatch(value):
            raise InvalidInput(
                f"tag {tag!r} is not valid: use 1-64 letters, digits, spaces and _ . : / + # -, "
                "starting with a letter or digit."
            )
        if value not in cleaned:
            cleaned.append(value)
    if len(cleaned) > settings.max_tags:
        raise InvalidInput(f"{len(cleaned)} tags given; at most {settings.max_tags} (REMEMBRANCER_MAX_TAGS).")
    return cleaned


def _depth(value: Any, level: int = 0) -> int:
    if level > MAX_METADATA_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(item, level + 1) for item in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(item, level + 1) for item in value), default=level + 1)
    return level


def _strings(value: Any) -> list[str]:
    """Every key and string value inside a JSON value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for key, item in value.items() for text in (str(key), *_strings(item))]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []


def check_metadata(metadata: dict[str, Any] | None, settings: Settings) -> dict[str, Any]:
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise InvalidInput('metadata must be a JSON object, e.g. {"source": "chat"}.')
    if _depth(metadata) > MAX_METADATA_DEPTH:
        raise InvalidInput(f"metadata is nested more than {MAX_METADATA_DEPTH} levels deep; flatten it.")
    try:
        encoded = json.dumps(metadata, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            f"metadata is not plain JSON ({exc}); use strings, numbers, lists and objects."
        ) from None
    for text in _strings(metadata):
        _reject_control(text, "metadata")
    size = len(encoded.encode("utf-8"))
    if size > settings.max_metadata_bytes:
        raise InvalidInput(
            f"metadata is {size} bytes as JSON; the limit is {settings.max_metadata_bytes} "
            "(REMEMBRANCER_MAX_METADATA_BYTES)."
        )
    result: dict[str, Any] = json.loads(encoded)
    return result


def check_limit(limit: int, low: int = 1, high: int = 50, *, name: str = "limit") -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not low <= limit <= high:
        raise InvalidInput(f"{name} must be a whole number from {low} to {high}; got {limit!r}.")
    return limit


def check_score(score: float) -> float:
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not 0.0 <= score <= 1.0:
        raise InvalidInput(f"min_score must be a number from 0 to 1 (0 returns every hit); got {score!r}.")
    return float(score)


def as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def timestamp(moment: datetime) -> str:
    """The one text form of a time in the database: UTC, microseconds, so text order is time order."""
    return as_utc(moment).isoformat(timespec="microseconds")


def _in_utc(moment: datetime, name: str) -> datetime:
    try:
        return as_utc(moment)
    except OverflowError:
        raise InvalidInput(f"{name} ({moment.isoformat()}) is out of range once converted to UTC.") from None


def check_time_range(since: datetime | None, until: datetime | None) -> tuple[str | None, str | None]:
    start = None if since is None else _in_utc(since, "since")
    end = None if until is None else _in_utc(until, "until")
    if start is not None and end is not None and start > end:
        raise InvalidInput(f"since ({start.isoformat()}) is after until ({end.isoformat()}); swap them.")
    return (None if start is None else timestamp(start), None if end is None else timestamp(end))
