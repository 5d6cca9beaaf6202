"""Run by test_maintenance: import memories in batches until killed (SIGKILL, at a random moment)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from conftest import FakeEmbedder
from remembrancer.config import Settings
from remembrancer.models import ExportRecord
from remembrancer.service import MemoryService


def main(db: str, start: int) -> None:
    service = MemoryService.open(Settings(db_path=Path(db)), FakeEmbedder())
    now = datetime.now(UTC)
    records = (
        ExportRecord(
            id=f"m_crash{n:08d}",
            content=f"crash test memory {n} w{n}a w{n}b",
            scope="crash",
            created_at=now,
            updated_at=now,
            metadata={"n": n},
        )
        for n in range(start, start + 100_000)
    )
    print("started", flush=True)
    service.import_records(records)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
