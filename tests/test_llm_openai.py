"""The judge on an OpenAI-compatible server (the scripted fake on loopback, through the real
``openai`` library): servers without tool support, answers in prose or broken JSON, and the
console script's configuration and `doctor` for this provider. Every decision kind, retries,
timeouts, refused connections and prompt injection run on both providers in test_llm_dedup.py."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import FakeEmbedder, llm_settings
from fake_llm_api import FakeLLMAPI, Reply, decision, error
from remembrancer.service import MemoryService
from servers import clean_env, run_cli


@pytest.fixture
def no_tools() -> Iterator[FakeLLMAPI]:
    """A chat-completions server that answers HTTP 400 to any request offering tools."""
    api = FakeLLMAPI(tools=False).start()
    yield api
    api.stop()


def _service(db: Path, api: FakeLLMAPI) -> MemoryService:
    return MemoryService.open(llm_settings(db, api.url, "openai", llm_max_retries=0), FakeEmbedder())


def _completion(message: dict[str, object]) -> Reply:
    """A chat completion carrying this message, as an OpenAI-compatible server sends it."""
    choice = {
        "index": 0,
        "message": message,
        "finish_reason": "tool_calls" if "tool_calls" in message else "stop",
    }
    body = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [choice],
    }
    return Reply(body=json.dumps(body).encode())


def _prose(text: str) -> Reply:
    """A message that is text, not a function call."""
    return _completion({"role": "assistant", "content": text})


def test_a_server_without_tools_is_asked_for_json_and_its_answers_count(
    db_path: Path, no_tools: FakeLLMAPI
) -> None:
    service = _service(db_path, no_tools)
    try:
        berlin = service.remember("I live in Berlin").memory
        assert berlin is not None
        no_tools.queue(decision("supersede", ["M1"], reason="moved"))
        moved = service.remember("I live in Munich now")
        assert (moved.status, moved.judge, moved.superseded) == ("superseded", "llm", [berlin.id])
        assert no_tools.refused == 1 and no_tools.calls == 2  # tools refused once, then JSON
        asked = no_tools.system()
        assert "Answer with one JSON object" in asked and '"supersede"' in asked  # the schema
        assert "tools" not in no_tools.requests[-1]["body"]

        no_tools.queue(decision("duplicate", ["M1"], reason="same"))
        again = service.remember("Munich is where I live now")
        assert again.status == "duplicate" and no_tools.refused == 1  # no second try with tools
    finally:
        service.close()


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ('{"action": "supersede", "targets": ["M1"]', "not JSON"),
        ('["supersede", "M1"]', "not an object"),
        ('{"action": "obliterate", "targets": ["M1"]}', "malformed"),
        ('{"action": "supersede", "targets": ["M7"]}', "labels it was not shown"),
    ],
    ids=["truncated", "array", "unknown-action", "unseen-label"],
)
def test_a_json_answer_that_is_broken_or_out_of_range_is_refused_and_nothing_is_lost(
    db_path: Path, no_tools: FakeLLMAPI, answer: str, problem: str
) -> None:
    service = _service(db_path, no_tools)
    try:
        service.remember("I live in Berlin")
        no_tools.queue(_prose(answer))
        result = service.remember("I live in Munich now")
        assert (result.status, result.judge, result.needs_review) == ("added", "fallback", True)
        assert problem in result.reason
        assert [m.superseded_by for m in service.list_memories(include_superseded=True)] == [None, None]
    finally:
        service.close()


def test_an_answer_in_prose_turns_the_judge_to_json(db_path: Path, fake_api: FakeLLMAPI) -> None:
    """A server that takes tools but answers in words: asked again for JSON, then from then on."""
    service = _service(db_path, fake_api)
    try:
        service.remember("I live in Berlin")
        fake_api.queue(_prose("I think the user moved, so supersede M1."), decision("supersede", ["M1"]))
        result = service.remember("I live in Munich now")
        assert result.status == "superseded" and fake_api.calls == 2
        assert "tools" in fake_api.requests[0]["body"] and "tools" not in fake_api.requests[1]["body"]
        fenced = _prose('```json\n{"action": "duplicate", "targets": ["M1"], "reason": "same"}\n```')
        fake_api.queue(fenced)
        assert service.remember("Munich is where I live now").status == "duplicate"
    finally:
        service.close()


def test_function_arguments_that_are_not_json_fall_back(db_path: Path, fake_api: FakeLLMAPI) -> None:
    service = _service(db_path, fake_api)
    try:
        service.remember("I live in Berlin")
        call = {"id": "c", "type": "function", "function": {"name": "decide", "arguments": '{"action": '}}
        fake_api.queue(_completion({"role": "assistant", "content": None, "tool_calls": [call]}))
        result = service.remember("I live in Munich now")
        assert (result.status, result.needs_review) == ("added", True) and "not JSON" in result.reason
    finally:
        service.close()


def _doctor_env(tmp_path: Path, base_url: str, **extra: str) -> dict[str, str]:
    return clean_env(
        tmp_path,
        REMEMBRANCER_LLM_PROVIDER="openai",
        REMEMBRANCER_LLM_BASE_URL=base_url,
        REMEMBRANCER_LLM_MODEL="llama3.2",
        **extra,
    )


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        (decision("add"), "[ok] llm: reachable: http://127.0.0.1"),
        (error(401), "[FAIL] llm: auth refused by"),
        (error(404), "[FAIL] llm: model unknown"),
    ],
    ids=["reachable", "auth-refused", "model-unknown"],
)
def test_doctor_asks_an_openai_compatible_server_once(
    tmp_path: Path, fake_api: FakeLLMAPI, reply: Reply, verdict: str
) -> None:
    db = tmp_path / "memory.db"
    env = _doctor_env(tmp_path, f"{fake_api.url}/v1")  # a local server: no key needed
    assert run_cli(tmp_path, "remember", "I keep bees", "--db", str(db), **env).returncode == 0
    fake_api.queue(reply)
    done = run_cli(tmp_path, "doctor", "--db", str(db), **env)
    assert verdict in done.stdout, done.stdout
    assert fake_api.calls == 1 and fake_api.requests[0]["path"] == "/v1/chat/completions"
    assert fake_api.requests[0]["body"]["model"] == "llama3.2"
    if "reachable" in verdict:
        assert "model llama3.2 in" in done.stdout and " ms" in done.stdout  # the latency
    offline = run_cli(tmp_path, "doctor", "--offline", "--db", str(db), **env)
    assert "[ok] llm: openai provider at http://127.0.0.1" in offline.stdout and fake_api.calls == 1


def test_doctor_names_an_unreachable_openai_compatible_server(tmp_path: Path) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    env = _doctor_env(tmp_path, f"http://127.0.0.1:{port}/v1")
    done = run_cli(tmp_path, "doctor", "--db", str(tmp_path / "m.db"), **env)
    assert done.returncode == 1 and "[FAIL] llm: unreachable" in done.stdout
    assert "REMEMBRANCER_LLM_BASE_URL" in done.stdout


def test_the_openai_provider_without_a_model_is_one_clear_line(tmp_path: Path) -> None:
    env = clean_env(
        tmp_path, REMEMBRANCER_LLM_PROVIDER="openai", REMEMBRANCER_LLM_BASE_URL="http://127.0.0.1:9/v1"
    )
    done = run_cli(tmp_path, "stats", "--db", str(tmp_path / "m.db"), **env)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "REMEMBRANCER_LLM_PROVIDER=openai needs REMEMBRANCER_LLM_MODEL" in done.stderr
    wrong = clean_env(tmp_path, REMEMBRANCER_LLM_PROVIDER="gemini")
    refused = run_cli(tmp_path, "stats", "--db", str(tmp_path / "m.db"), **wrong)
    assert refused.returncode == 2 and "REMEMBRANCER_LLM_PROVIDER" in refused.stderr
