"""Links the local judge made meet the LLM judge: an update, a review, a forget."""

from __future__ import annotations

from pathlib import Path

from conftest import stored_id
from fake_llm_api import FakeLLMAPI, decision, error
from remembrancer.models import RememberResult
from remembrancer.service import MemoryService


def _changed_while_the_llm_is_down(
    svc: MemoryService, api: FakeLLMAPI, old_text: str, new_text: str
) -> tuple[RememberResult, RememberResult]:
    """Store a fact, then a changed value of it while every LLM call fails: the local judge links them."""
    old = svc.remember(old_text)
    api.queue(error(500), error(500), error(500))
    new = svc.remember(new_text)
    assert new.needs_review and new.replaces == [stored_id(old)]
    return old, new


def test_an_llm_update_of_a_linked_memory_drops_its_stale_links(
    llm_service: MemoryService, fake_api: FakeLLMAPI
) -> None:
    old, new = _changed_while_the_llm_is_down(
        llm_service, fake_api, "My locker code is 4411", "My locker code is 9376"
    )
    fake_api.queue(decision("update", ["M1"], merged="My locker code is 9376, reset every Monday"))
    updated = llm_service.remember("My locker code 9376 is reset every Monday")
    assert updated.status == "updated" and stored_id(updated) == stored_id(new)
    hits = {hit.id: hit for hit in llm_service.recall("locker code", include_superseded=True).hits}
    assert hits[stored_id(new)].replaces == [] and hits[stored_id(old)].replaced_by is None


def test_review_refuses_an_llm_duplicate_that_drops_a_value(
    llm_service: MemoryService, fake_api: FakeLLMAPI
) -> None:
    old, new = _changed_while_the_llm_is_down(
        llm_service, fake_api, "My locker code is 4411", "My locker code is 9376"
    )
    fake_api.queue(decision("duplicate", ["M1"], reason="same locker"))
    report = llm_service.review()
    assert (report.reviewed, report.changed) == (1, 0)
    hits = llm_service.recall("locker code").hits
    assert [hit.id for hit in hits[:2]] == [stored_id(new), stored_id(old)] and hits[0].replaces[
        0
    ].id == stored_id(old)


def test_forgetting_the_older_leaves_its_value_nowhere_after_a_review(
    llm_service: MemoryService, fake_api: FakeLLMAPI, db_path: Path
) -> None:
    old, new = _changed_while_the_llm_is_down(
        llm_service, fake_api, "My alarm PIN is 80417", "My alarm PIN is 55203"
    )
    fake_api.queue(decision("add", reason="PIN changed: 80417 -> 55203"))  # an LLM reason quoting it
    llm_service.review()
    llm_service.forget([stored_id(old)])
    assert all("80417" not in str(event.details) for event in llm_service.history(stored_id(new)))
    llm_service.store.checkpoint()
    for part in (db_path, Path(f"{db_path}-wal")):
        if part.exists():
            assert b"80417" not in part.read_bytes(), part
