"""Remember through the LLM judge on each provider (Anthropic's Messages API, an OpenAI-compatible
chat-completions server): latency against a fake LLM with a fixed delay, and the share of
remember calls on a realistic stream (LoCoMo dev dialogue turns) that needed no LLM call.

Run: .venv/bin/python bench/judge.py [--delay 0.3] [--locomo PATH] [--conversations N]
"""

from __future__ import annotations

import argparse
import html
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the scripted fake Messages API lives with the tests

from fake_llm_api import FakeLLMAPI, Reply, decision, facts, slow  # noqa: E402
from remembrancer.config import Settings  # noqa: E402
from remembrancer.embeddings import FastEmbedder  # noqa: E402
from remembrancer.service import MemoryService  # noqa: E402

DEFAULT_LOCOMO = ROOT.parent / "shared" / "data" / "locomo" / "locomo10-dev.json"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def turns(path: Path, conversations: int) -> list[tuple[str, str]]:
    """(scope, "Speaker: text") for every dialogue turn, in order."""
    data: list[dict[str, Any]] = json.loads(path.read_text())
    stream = []
    for conversation in data[:conversations]:
        sessions = conversation["conversation"]
        numbers = sorted(
            int(key.split("_")[1]) for key in sessions if key.count("_") == 1 and key[8:].isdigit()
        )
        for number in numbers:
            for turn in sessions.get(f"session_{number}", []):
                text = f"{turn['speaker']}: {turn['text']}"
                if turn.get("blip_caption"):
                    text += f" [shares a photo: {turn['blip_caption']}]"
                stream.append((conversation["sample_id"], text))
    return stream


class AlwaysAdd(FakeLLMAPI):
    """A fake LLM that, after a fixed delay, keeps a passage as one fact and judges every fact new."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    def default_reply(self, request: dict[str, Any]) -> Reply:
        choice = request.get("tool_choice", {})
        tool = choice.get("name") or choice.get("function", {}).get("name")  # Anthropic / OpenAI
        if tool == "record_facts":
            passage = re.search(r"<passage>(.*)</passage>", str(request["messages"][-1]["content"]), re.S)
            reply = facts([html.unescape(passage.group(1)) if passage else "nothing"])
        else:
            reply = decision("add", reason="bench")
        return slow(reply, self.delay)


def provider_settings(provider: str, url: str) -> dict[str, Any]:
    if provider == "anthropic":
        return {"anthropic_api_key": "bench", "llm_base_url": url}
    return {"llm_provider": "openai", "llm_base_url": f"{url}/v1", "llm_model": "bench-model"}


def run(args: argparse.Namespace) -> None:
    api = AlwaysAdd(args.delay).start()
    embedder = FastEmbedder()
    embedder.embed(["warm up"])
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for provider, gate in [(provider, gate) for provider in args.providers for gate in args.gates]:
            settings = Settings(
                db_path=Path(folder) / f"judge-{provider}-{gate}.db",
                **provider_settings(provider, api.url),
                llm_min_similarity=gate,
                llm_budget=max(5.0, args.delay * 4),
                review_interval=0,
            )
            service = MemoryService.open(settings, embedder)
            stream = turns(args.locomo, args.conversations)
            with_llm: list[float] = []
            without_llm: list[float] = []
            statuses: dict[str, int] = {}
            for scope, text in stream:
                before = api.calls
                started = time.perf_counter()
                result = service.remember(text, scope=scope, actor="bench")
                elapsed = (time.perf_counter() - started) * 1000
                (with_llm if api.calls > before else without_llm).append(elapsed)
                statuses[result.status] = statuses.get(result.status, 0) + 1
                api.requests.clear()
            service.close()
            rows.append((provider, gate, len(stream), with_llm, without_llm, statuses))
    api.stop()

    print(f"\n## Remember through the judge (fake LLM answering after {args.delay * 1000:.0f} ms)\n")
    print(f"stream: {args.conversations} LoCoMo dev conversations, one remember per dialogue turn\n")
    print(
        "| provider | LLM gate (min cosine) | remembers | no LLM call | p50 / p95 with LLM"
        " | p50 / p95 without | outcomes |"
    )
    print("|---|---:|---:|---:|---|---|---|")
    for provider, gate, total, with_llm, without_llm, statuses in rows:
        share = len(without_llm) / total
        called = (
            f"{statistics.median(with_llm):.0f} / {percentile(with_llm, 0.95):.0f} ms" if with_llm else "-"
        )
        local = (
            f"{statistics.median(without_llm):.1f} / {percentile(without_llm, 0.95):.1f} ms"
            if without_llm
            else "-"
        )
        outcome = ", ".join(f"{key} {value}" for key, value in sorted(statuses.items()))
        print(f"| {provider} | {gate:.2f} | {total} | {share:.1%} | {called} | {local} | {outcome} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--delay", type=float, default=0.3, help="seconds the fake LLM takes to answer")
    parser.add_argument("--locomo", type=Path, default=DEFAULT_LOCOMO)
    parser.add_argument("--conversations", type=int, default=1)
    parser.add_argument("--gates", type=float, nargs="+", default=[0.35, 0.5])
    parser.add_argument(
        "--providers", nargs="+", choices=["anthropic", "openai"], default=["anthropic", "openai"]
    )
    run(parser.parse_args())


if __name__ == "__main__":
    main()
