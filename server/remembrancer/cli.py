"""The command line: ``remembrancer serve`` for assistants, the other commands for people."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from remembrancer import package_version
from remembrancer.cli_files import cmd_backup, cmd_copy, cmd_export, cmd_import, cmd_reembed
from remembrancer.cli_serving import TRANSPORTS, cmd_serve, cmd_ui
from remembrancer.cli_support import emit, opened, parse_event, positive
from remembrancer.config import Settings, load_settings
from remembrancer.display import describe, describe_event, describe_hit, describe_outcome
from remembrancer.errors import InvalidInput, RemembrancerError
from remembrancer.models import FactOutcome

log = logging.getLogger("remembrancer")


def _configure_logging(level: str) -> None:
    # stdout belongs to the protocol on stdio: everything we say goes to stderr.
    logging.basicConfig(
        stream=sys.stderr, level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


# -- commands -------------------------------------------------------------------------------


def _standard_input_text() -> str:
    try:
        return sys.stdin.buffer.read().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"standard input is not UTF-8 text ({exc.reason}); nothing was stored.") from None


def cmd_remember(args: argparse.Namespace, settings: Settings) -> int:
    metadata = json.loads(args.metadata) if args.metadata else {}
    content = _standard_input_text() if args.content == "-" else args.content
    with opened(settings, must_exist=False) as service:
        result = service.remember(
            content, args.tag, metadata, args.scope, actor="cli", occurred_at=args.occurred_at
        )

    outcomes = result.facts or [FactOutcome.model_validate(result.model_dump(exclude={"facts"}))]

    def human() -> str:
        return "\n".join(describe_outcome(outcome) for outcome in outcomes)

    emit(args, result, human)
    return 0


def cmd_recall(args: argparse.Namespace, settings: Settings) -> int:
    with opened(settings) as service:
        result = service.recall(
            args.query,
            args.limit,
            args.tag or None,
            args.since,
            args.until,
            args.scope or None,
            max_tokens=args.max_tokens,
            min_score=args.min_score,
        )
    emit(
        args,
        result,
        lambda: (
            "\n".join([*map(describe_hit, result.hits), *(f"note: {n}" for n in result.notes)])
            or "no memories found"
        ),
    )
    return 0


def cmd_forget(args: argparse.Namespace, settings: Settings) -> int:
    with opened(settings) as service:
        result = service.forget(args.ids, actor="cli")
    emit(args, result, lambda: "forgot " + ", ".join(result.forgotten))
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    with opened(settings) as service:
        memories = service.list_memories(
            args.scope or None, args.tag or None, args.since, args.until, args.limit
        )
    emit(args, memories, lambda: "\n".join(describe(m) for m in memories) or "no memories")
    return 0


def cmd_history(args: argparse.Namespace, settings: Settings) -> int:
    with opened(settings) as service:
        events = service.history(args.id, args.limit)
    emit(args, events, lambda: "\n".join(describe_event(e) for e in events) or "no history")
    return 0


def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    with opened(settings) as service:
        stats = service.stats()
    lines = [
        f"database:   {stats.db_path} ({stats.file_bytes:,} bytes, schema {stats.schema_version})",
        f"memories:   {stats.memories:,}",
        f"model:      {stats.embedding_model} ({stats.embedding_dim} dimensions)",
        f"history:    {stats.history_events:,} events",
        *(f"  scope {s.scope}: {s.memories:,}" for s in stats.scopes),
    ]
    emit(args, stats, lambda: "\n".join(lines))
    return 0


def cmd_review(args: argparse.Namespace, settings: Settings) -> int:
    with opened(settings) as service:
        report = service.review(args.limit, actor="cli")
    summary = f"reviewed {report.reviewed}, changed {report.changed}, {report.remaining} still waiting"
    emit(args, report, lambda: summary + (f"\nstopped: {report.error}" if report.error else ""))
    return 0 if report.error is None else 1


def cmd_scopes(args: argparse.Namespace, settings: Settings) -> int:
    with opened(settings) as service:
        scopes = service.stats().scopes
    width = max((len(scope.scope) for scope in scopes), default=0)
    emit(
        args,
        scopes,
        lambda: (
            "\n".join(f"{scope.scope:<{width}}  {scope.memories:,}" for scope in scopes) or "no scopes yet"
        ),
    )
    return 0


def cmd_undo(args: argparse.Namespace, settings: Settings) -> int:
    with opened(settings) as service:
        result = service.undo(args.event, actor="cli")
    restored, removed = ", ".join(result.restored) or "none", ", ".join(result.removed) or "none"
    emit(args, result, lambda: f"undid event {result.event}: restored {restored}; removed {removed}")
    return 0


def cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    from remembrancer.doctor import run_checks

    if args.repair:
        from remembrancer.storage import repair

        with opened(settings) as service:
            report = repair(service.store, service._vectors)
        print(f"repaired: {report.summary()}", file=sys.stderr)

    checks = run_checks(settings, offline=args.offline)
    if args.json:
        print(json.dumps([check._asdict() for check in checks], indent=2))
    else:
        for check in checks:
            print(f"[{'ok' if check.ok else 'FAIL'}] {check.name}: {check.detail}")
    return 0 if all(check.ok for check in checks) else 1


# -- parser ---------------------------------------------------------------------------------


class _Version(argparse.Action):
    """--version, with the version looked up only when asked for (not on every start)."""

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        print(f"remembrancer {package_version('unknown (not installed)')}")
        parser.exit()


class _Parser(argparse.ArgumentParser):
    """argparse, whose usage errors are one line as every other mistake is (JSON with --json)."""

    def error(self, message: str) -> NoReturn:
        if "--json" in sys.argv[1:]:
            print(json.dumps({"error": f"{self.prog}: {message}"}, ensure_ascii=False), file=sys.stderr)
        else:
            print(f"remembrancer: {message}; see `{self.prog} --help`.", file=sys.stderr)
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument("--db", help="database file, or a postgresql:// URI (env REMEMBRANCER_DB)")
    common.add_argument("--json", action="store_true", help="machine-readable output")

    filters = _Parser(add_help=False)
    filters.add_argument(
        "--tag", action="append", default=[], help="only memories with this tag (repeatable)"
    )
    filters.add_argument(
        "--since",
        help="happened at or after this time: ISO 8601 (local time unless a zone is given),"
        ' or "7d", "yesterday", "last week"',
    )
    filters.add_argument("--until", help="happened at or before this time (a date or period alone: its end)")

    parser = _Parser(prog="remembrancer", description="Long-term memory for MCP assistants.")
    parser.add_argument("--version", action=_Version, nargs=0, help="print the installed version")
    # Also before the command ("remembrancer --db FILE stats"), as people type them.
    parser.add_argument("--db", dest="db_first", help=argparse.SUPPRESS)
    parser.add_argument("--json", dest="json_first", action="store_true", help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", parents=[common], help="run the MCP server (stdio by default)")
    serve.add_argument("--transport", choices=sorted(TRANSPORTS), default="stdio", help="default: stdio")
    serve.add_argument("--host", help="HTTP address (env REMEMBRANCER_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="HTTP port (env REMEMBRANCER_PORT, default 8765)")
    serve.add_argument("--scope", help="default scope (env REMEMBRANCER_SCOPE)")
    serve.add_argument(
        "--no-auth",
        action="store_true",
        help="on loopback only: serve HTTP without a token (env REMEMBRANCER_AUTH=off)",
    )
    serve.add_argument(
        "--stateless",
        action="store_true",
        help="HTTP without sessions: servers behind one load balancer (env REMEMBRANCER_STATELESS)",
    )
    serve.set_defaults(run=cmd_serve)

    ui = sub.add_parser("ui", parents=[common], help="open the memory browser (a web page, on loopback)")
    ui.add_argument("--port", type=int, help="HTTP port (default 8766)")
    ui.add_argument("--no-browser", action="store_true", help="print the address, do not open a browser")
    ui.set_defaults(run=cmd_ui)

    remember = sub.add_parser("remember", parents=[common], help="store a memory")
    remember.add_argument("content", help="the fact to store; - reads it from standard input")
    remember.add_argument("--tag", action="append", default=[], help="a tag (repeatable)")
    remember.add_argument("--metadata", help="a JSON object")
    remember.add_argument("--scope", help="where to keep it (default: the default scope)")
    remember.add_argument(
        "--occurred-at",
        help='when it happened, if not now: ISO 8601 (local time unless a zone is given) or "yesterday"',
    )
    remember.set_defaults(run=cmd_remember)

    recall = sub.add_parser("recall", parents=[common, filters], help="find relevant memories")
    recall.add_argument("query", help="a question or a few words")
    recall.add_argument("--limit", type=int, default=5, help="at most this many hits, 1-50 (default 5)")
    recall.add_argument("--scope", action="append", default=[], help="scope to search (repeatable)")
    recall.add_argument(
        "--max-tokens",
        type=positive,
        help="only the best hits that fit in N tokens of the text an MCP client receives (one line a hit)",
    )
    recall.add_argument(
        "--min-score", type=float, help="leave out hits scoring below this, 0-1 (default 0.23; 0: all)"
    )
    recall.set_defaults(run=cmd_recall)

    forget = sub.add_parser("forget", parents=[common], help="remove memories by id")
    forget.add_argument("ids", nargs="+", help="memory ids, whole or as recall shows them")
    forget.set_defaults(run=cmd_forget)

    listing = sub.add_parser("list", parents=[common, filters], help="list memories, newest first")
    listing.add_argument(
        "--scope", action="append", default=[], help="scope to list (repeatable; default: the default scope)"
    )
    listing.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    listing.set_defaults(run=cmd_list)

    history = sub.add_parser("history", parents=[common], help="show the history of changes")
    history.add_argument("id", nargs="?", help="one memory's id (whole or short); omit for the latest events")
    history.add_argument("--limit", type=int, default=100, help="at most this many events (default 100)")
    history.set_defaults(run=cmd_history)

    undo = sub.add_parser("undo", parents=[common], help="revert one update or supersede")
    undo.add_argument(
        "event",
        metavar="EVENT",
        type=parse_event,
        help="the event's number, as `history` shows it (first column)",
    )
    undo.set_defaults(run=cmd_undo)

    review = sub.add_parser(
        "review", parents=[common], help="put fallback-stored memories before the LLM judge"
    )
    review.add_argument("--limit", type=positive, default=50, help="most memories to review (default 50)")
    review.set_defaults(run=cmd_review)

    sub.add_parser("stats", parents=[common], help="counts and sizes").set_defaults(run=cmd_stats)
    sub.add_parser("scopes", parents=[common], help="every scope, with its count of memories").set_defaults(
        run=cmd_scopes
    )

    export = sub.add_parser("export", parents=[common], help="write every memory as JSON Lines")
    export.add_argument("path", nargs="?", default="-", help="file to write (default: stdout)")
    export.add_argument("--force", action="store_true", help="overwrite the file if it exists")
    export.set_defaults(run=cmd_export)

    importing = sub.add_parser("import", parents=[common], help="read memories from JSON Lines")
    importing.add_argument("path", help="file to read, or - for stdin")
    importing.set_defaults(run=cmd_import)

    sub.add_parser(
        "reembed", parents=[common], help="re-embed every memory with the configured model"
    ).set_defaults(run=cmd_reembed)
    doctor = sub.add_parser("doctor", parents=[common], help="check the installation and the database")
    doctor.add_argument("--repair", action="store_true", help="rebuild vectors and the full-text index first")
    doctor.add_argument("--offline", action="store_true", help="do not contact the LLM endpoint")
    doctor.set_defaults(run=cmd_doctor)

    backup = sub.add_parser("backup", parents=[common], help="a consistent copy, even while servers write")
    backup.add_argument("path", help="the new file (must not exist)")
    backup.set_defaults(run=cmd_backup)

    copy = sub.add_parser("copy", help="copy a whole store into an empty one, SQLite or PostgreSQL")
    copy.add_argument("source", help="the store to copy: a database file, or a postgresql:// URI")
    copy.add_argument("target", help="an empty store: a new file, or an empty database's URI")
    copy.add_argument("--json", action="store_true", help="machine-readable output")
    copy.set_defaults(run=cmd_copy, db=None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.db = args.db or args.db_first
    args.json = args.json or args.json_first
    try:
        settings = load_settings().with_overrides(
            db_path=args.db,
            host=getattr(args, "host", None),
            port=getattr(args, "port", None),
            default_scope=getattr(args, "scope", None) if args.command == "serve" else None,
            auth="off" if getattr(args, "no_auth", False) else None,
            stateless=True if getattr(args, "stateless", False) else None,
        )
        quiet = args.command not in ("serve", "ui") and "REMEMBRANCER_LOG_LEVEL" not in os.environ
        _configure_logging("WARNING" if quiet else settings.log_level)
        code = int(args.run(args, settings))
        sys.stdout.flush()  # here, so a reader that went away is noticed while we can say so
        return code
    except RemembrancerError as exc:
        return _fail(args, str(exc))
    except json.JSONDecodeError as exc:
        return _fail(args, f"--metadata is not valid JSON ({exc}).")
    except BrokenPipeError:  # `remembrancer export | head`: the reader has all it wanted
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except OSError as exc:  # a file that cannot be read or written, a busy port, a full disk
        where = f" {exc.filename}" if exc.filename else ""
        return _fail(args, f"cannot use{where}: {exc.strerror or exc}.")
    except KeyboardInterrupt:
        return 130


def _fail(args: argparse.Namespace, message: str) -> int:
    """One line on stderr (a JSON object with --json), exit code 2."""
    if getattr(args, "json", False):
        print(json.dumps({"error": message}, ensure_ascii=False), file=sys.stderr)
    else:
        print(f"remembrancer: {message}", file=sys.stderr)
    return 2
