"""Memory ids as a recall's text shows them: the first 8 of their 16 hex digits ("m_c44805e7"),
as git shows a commit. Sixteen hex digits cost a tokenizer about 14 tokens, eight about 8: on a
line of a short fact, that is a fifth of what the line costs an assistant's context window.
The structured result keeps whole ids; ids of another form (imported ones) are shown whole.

``forget`` and ``history`` take a short id where no memory has it as its whole id, when exactly
one memory's id starts with it; when several do, they name them and do nothing. A forgotten
memory's history needs its whole id: no memory's id starts with the short one any more.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from remembrancer.errors import InvalidInput
from remembrancer.storage import Storage

SHOWN_DIGITS = 8
_GENERATED = re.compile(r"m_[0-9a-f]{16}")
_SHORT = re.compile(rf"m_[0-9a-f]{{{SHOWN_DIGITS},15}}")


def short_id(memory_id: str) -> str:
    return memory_id[: 2 + SHOWN_DIGITS] if _GENERATED.fullmatch(memory_id) else memory_id


def whole_ids(
    store: Storage,
    ids: Sequence[str],
    scopes: Sequence[str] | None = None,
    undone: str = "nothing was forgotten",
) -> list[str]:
    """Each id as given, or the one whole id its short form stands for among the memories of
    ``scopes`` (a caller kept to some scopes learns of no id outside them)."""
    looks_short = {memory_id for memory_id in ids if _SHORT.fullmatch(memory_id)}
    known = store.existing_ids(list(looks_short)) if looks_short else set()
    whole = []
    for memory_id in ids:
        if memory_id not in looks_short or memory_id in known:
            whole.append(memory_id)
            continue
        found = store.ids_starting_with(memory_id, 20)
        if scopes is not None:
            rows = store.get_by_ids(found)
            found = [found_id for found_id in found if rows[found_id].scope in scopes]
        if len(found) > 1:
            raise InvalidInput(
                f"id {memory_id!r} is the start of several memories' ids ({', '.join(found[:2])}"
                f"{', ...' if len(found) > 2 else ''}); {undone}. Pass the whole id."
            )
        whole.append(found[0] if found else memory_id)
    return whole
