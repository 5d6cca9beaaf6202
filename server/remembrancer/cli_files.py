"""Commands that read or write whole stores: export, import, backup, copy, re-embed."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import TextIO

from pydantic import ValidationError

from remembrancer.cli_support import emit, opened
from remembrancer.config import Settings
from remembrancer.display import progress_bar
from remembrancer.errors import InvalidInput
from remembrancer.models import ExportRecord
from remembrancer.service import MemoryService


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    """JSON Lines to stdout, or to a file written whole: into a temporary file beside it, then
    renamed, so a failure never leaves half an export (and an existing file needs --force)."""
    if args.path == "-":
        with opened(settings) as service:
            count = _write_records(service, sys.stdout)
    else:
        target = Path(args.path)
        if target.exists() and not args.force:
            raise InvalidInput(
                f"{target} already exists; pass --force to overwrite it, or choose another file."
            )
        _check_folder(target)
        with opened(settings) as service:
            descriptor, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(temporary, 0o666 & ~umask)  # as open() would have made it, not mkstemp's 0600
            try:
                with os.fdopen(descriptor, "w", encoding="utf-8") as out:
                    count = _write_records(service, out)
                os.replace(temporary, target)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
    print(f"exported {count} memories", file=sys.stderr)
    return 0


def _check_folder(target: Path) -> None:
    if not target.parent.is_dir():
        raise InvalidInput(f"cannot write {target}: the folder {target.parent} does not exist.")


def _write_records(service: MemoryService, out: TextIO) -> int:
    count = 0
    for record in service.export():
        out.write(record.model_dump_json() + "\n")
        count += 1
    return count


def _read_records(path: str) -> list[ExportRecord]:
    """Read and validate the whole file first, so a bad line stores nothing."""
    if path != "-" and Path(path).is_dir():
        raise InvalidInput(f"cannot read {path}: it is a folder; give the path of a JSON Lines export.")
    if path != "-" and not Path(path).is_file():
        raise InvalidInput(f"cannot read {path}: no such file; give the path of a JSON Lines export.")
    source: TextIO = sys.stdin if path == "-" else open(path, encoding="utf-8", errors="strict")  # noqa: SIM115
    records = []
    try:
        for number, line in enumerate(source, start=1):
            if not line.strip():
                continue
            try:
                records.append(ExportRecord.model_validate_json(line))
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(part) for part in first["loc"]) or "line"
                problem = str(first["msg"]).removeprefix("Value error, ")
                if first["type"] == "missing":
                    problem += " (import reads the lines `remembrancer export` writes: id, content,"
                    problem += " scope, created_at and updated_at at least)"
                message = f"{path} line {number}: {where}: {problem}; nothing was imported."
                raise InvalidInput(message) from None
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path} is not UTF-8 text ({exc.reason}); nothing was imported.") from None
    finally:
        if source is not sys.stdin:
            source.close()
    return records


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    records = _read_records(args.path)
    with opened(settings, must_exist=False) as service:
        service.check_import(records)
        report = service.import_records(records, progress=progress_bar(len(records)))
    emit(
        args, report, lambda: f"imported {report.imported}, skipped {report.skipped_existing} already present"
    )
    return 0


def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    from remembrancer.storage import backup

    _check_folder(Path(args.path))
    with opened(settings, bind_model=False) as service:
        pages = backup(service.store, Path(args.path))
    report = {"database": str(settings.db_path), "backup": args.path, "pages": pages}
    emit(args, report, lambda: f"backed up {settings.db_path} to {args.path} ({pages} pages)")
    return 0


def cmd_reembed(args: argparse.Namespace, settings: Settings) -> int:
    with opened(settings, bind_model=False) as service:
        total = service.store.counts()["memories"]
        count = service.reembed(progress=progress_bar(total))
    report = {"reembedded": count, "embedding_model": settings.embedding_model}
    emit(args, report, lambda: f"re-embedded {count} memories with {settings.embedding_model}")
    return 0


def cmd_copy(args: argparse.Namespace, settings: Settings) -> int:
    from remembrancer.copying import copy_store, open_pair

    source, target = open_pair(args.source, args.target, settings.busy_timeout)
    try:
        report = copy_store(source, target, progress_bar(source.counts()["memories"]))
    finally:
        source.close()
        target.close()
    emit(
        args,
        report,
        lambda: (
            f"copied {report.memories} memories and {report.history_events} history events"
            f" from {report.source} to {report.target}"
        ),
    )
    return 0
