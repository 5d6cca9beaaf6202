"""The full-text side of the store: each memory's FTS5 row holds its text, its tags, and as
context the text of the memory stored just before it in the same scope and sitting.

Conversations are stored one fact or turn at a time, and a turn often means little without
the one before it ("Yes, it was amazing!"); indexing that neighbour as low-weight context lets
such a memory be found (bench/RESULTS.md has the measurements). A memory's context follows
its neighbour: when the neighbour's text changes or it is forgotten, the context is rewritten,
so forgotten text never stays behind in another row's index entry.

The row also holds its scope as one opaque token (in a column of weight 0), so a query
names its scopes inside MATCH and FTS5 scores only that scope's matches, instead of scoring
every match in the store and joining each to its memory row to drop the other scopes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

import remembrancer.storage.rows as rows
import remembrancer.storage.word_budget as word_budget
from remembrancer.storage.rows import Beside
from remembrancer.storage.sqlite.connection import Connection

SITTING_SECONDS = rows.SITTING_SECONDS  # the benchmarks read it here
#: bm25 column weights: content, tags, context, scope (a filter, never a score).
WEIGHTS = (1.0, 0.5, 0.4, 0.0)
TEXT_COLUMNS = "{content tags context}"


def scope_token(scope: str) -> str:
    """A scope as one token the tokenizer keeps whole: digits only (no porter stemming, no
    splitting at '-' or '.'), from a hash so every valid scope name fits the same shape."""
    digest = hashlib.sha256(scope.encode("utf-8")).digest()[:12]
    return f"{int.from_bytes(digest, 'big'):029d}"


def match_expression(words: Sequence[str]) -> str | None:
    """An FTS5 expression matching any of the words, each quoted so no user text is syntax."""
    return " OR ".join(f'"{word.replace(chr(34), "")}"' for word in words) or None


def match_in_scopes(words_expression: str, scopes: Sequence[str], *, every_scope: bool = False) -> str:
    """The FTS5 expression for the words, limited to memories of these scopes. When they are
    all the scopes there are, the limit would only cost time (a posting list as long as the
    store), so it is left out; recall admits each hit by its row's scope in any case."""
    if every_scope:
        return f"{TEXT_COLUMNS} : ({words_expression})"
    tokens = " OR ".join(f'"{scope_token(scope)}"' for scope in scopes)
    return f"scope : ({tokens}) AND {TEXT_COLUMNS} : ({words_expression})"


def previous_in_sitting(conn: Connection, scope: str, occurred_at: str) -> tuple[int, str] | None:
    """(rowid, content) of the last live memory stored in the scope, if it happened in the same
    sitting (within an hour of event time: an imported conversation keeps its sittings)."""
    row = conn.execute(
        "select rowid, content, coalesce(occurred_at, created_at) from memories"
        " where scope = ? and superseded_by is null"
        " order by rowid desc limit 1",
        (scope,),
    ).fetchone()
    if row is None:
        return None
    return (int(row[0]), str(row[1])) if rows.same_sitting(occurred_at, row[2]) else None


def index(conn: Connection, rowid: int, content: str, tags: list[str], context: str, scope: str) -> None:
    conn.execute(
        "insert into memory_fts(rowid, content, tags, context, scope) values (?, ?, ?, ?, ?)",
        (rowid, content, " ".join(tags), context, scope_token(scope)),
    )


def change_text(conn: Connection, rowid: int, content: str) -> None:
    """New text for a memory, and as context for the memories that follow it."""
    conn.execute("update memory_fts set content = ? where rowid = ?", (content, rowid))
    conn.execute(
        "update memory_fts set context = ?"
        " where rowid in (select rowid from memories where context_rowid = ?)",
        (content, rowid),
    )


def unindex(conn: Connection, rowid: int, context_rowid: int | None) -> None:
    """Drop a memory's entry; the memories that had it as context get its own context instead."""
    bridge = ""
    if context_rowid is not None:
        found = conn.execute("select content from memories where rowid = ?", (context_rowid,)).fetchone()
        bridge = "" if found is None else str(found[0])
    dependents = [r for (r,) in conn.execute("select rowid from memories where context_rowid = ?", (rowid,))]
    conn.execute("update memories set context_rowid = ? where context_rowid = ?", (context_rowid, rowid))
    conn.executemany(
        "update memory_fts set context = ? where rowid = ?", [(bridge, dependent) for dependent in dependents]
    )
    conn.execute("delete from memory_fts where rowid = ?", (rowid,))


def neighbours(conn: Connection, rowids: list[int]) -> dict[int, Beside]:
    """The memories stored just before and just after each of the given ones, in its sitting."""
    if not rowids:
        return {}
    marks = ", ".join("?" * len(rowids))
    found = {rowid: Beside([], []) for rowid in rowids}
    for rowid, context in conn.execute(
        f"select rowid, context_rowid from memories where rowid in ({marks}) or context_rowid in ({marks})",
        (*rowids, *rowids),
    ):
        if rowid in found and context is not None:
            found[rowid].before.append(int(context))
        if context in found:
            found[context].after.append(int(rowid))
    return found


#: How many (memory, word) matches a full-text query may make FTS5 score (BM25 about 1 µs
#: each here), estimated as storage.word_budget explains.
POSTINGS_BUDGET = 20_000


def _prepare_query_vocabulary(conn: Connection) -> None:
    """Per-connection scratch tables that stem words with the index's own tokenizer."""
    conn.execute(
        "create virtual table if not exists temp.query_words using fts5("
        "word, tokenize='porter unicode61 remove_diacritics 2')"
    )
    conn.execute(
        "create virtual table if not exists temp.query_stems"
        " using fts5vocab('temp', 'query_words', 'instance')"
    )


def document_frequencies(conn: Connection, words: list[str]) -> dict[str, int]:
    """How many memories hold each word (after the index's own stemming), in the whole store."""
    if not words:
        return {}
    _prepare_query_vocabulary(conn)
    conn.execute("delete from temp.query_words")
    conn.executemany("insert into temp.query_words(rowid, word) values (?, ?)", list(enumerate(words)))
    stems = {int(index): str(term) for index, term in conn.execute("select doc, term from temp.query_stems")}
    conn.execute("delete from temp.query_words")
    if not stems:
        return dict.fromkeys(words, 0)
    marks = ", ".join("?" * len(stems))
    counts = dict(
        conn.execute(f"select term, doc from memory_fts_vocab where term in ({marks})", list(stems.values()))
    )
    return {word: int(counts.get(stems.get(index), 0)) for index, word in enumerate(words)}


def affordable_words(words: list[str], frequency: dict[str, int], scope_share: float = 1.0) -> list[str]:
    """The words FTS5 can afford to match within POSTINGS_BUDGET (storage.word_budget)."""
    return word_budget.affordable_words(words, frequency, scope_share, POSTINGS_BUDGET)


def evidence(conn: Connection, rowids: list[int]) -> dict[int, tuple[str, str, str, int | None, str]]:
    """(content, tags, context, the context memory's rowid, scope) of each memory, its text as
    the full-text index holds it: the context column is the text of the context memory (see
    ``index`` and ``unindex``), read here from the memory rows, quicker than from FTS5's."""
    if not rowids:
        return {}
    marks = ", ".join("?" * len(rowids))
    return {
        int(rowid): (
            str(content),
            " ".join(json.loads(tags)) if tags != "[]" else "",
            context or "",
            before,
            scope,
        )
        for rowid, content, tags, context, before, scope in conn.execute(
            "select m.rowid, m.content, m.tags, c.content, m.context_rowid, m.scope"
            f" from memories m left join memories c on c.rowid = m.context_rowid where m.rowid in ({marks})",
            rowids,
        )
    }
