"""The two APIs the LLM judge speaks: Anthropic's Messages API, and the OpenAI-compatible chat
completions that Ollama, llama.cpp's server, vLLM, LM Studio and most providers serve.

Each asks one structured question and returns the answer as a dict: through a forced tool call,
or, from an OpenAI-compatible server that refuses tools or answers without calling one, as a
JSON object the prompt asks for (read strictly: one object, at most inside a ``` fence). The
SDKs retry 429 and 5xx a bounded number of times; their errors become ``JudgeUnavailable``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from types import ModuleType
from typing import Any

from remembrancer.config import Settings
from remembrancer.errors import JudgeUnavailable

log = logging.getLogger(__name__)

JSON_INSTRUCTIONS = """

Answer with one JSON object and nothing else (no prose, no code fence needed): the arguments
of the `{tool}` tool, matching this JSON schema:
{schema}"""


def _sdk(name: str) -> ModuleType:
    """The SDK module, imported on first use (heavy; never at start-up)."""
    import importlib

    return importlib.import_module(name)


class _SdkProvider:
    """The client of one SDK, built on first use with the settings' key, endpoint, timeout and
    retries (both SDKs take the same four)."""

    sdk_name = ""
    client_class = ""
    own_api = ""  # the endpoint when no base URL is set

    def __init__(self, settings: Settings, client: Any = None) -> None:
        self._settings = settings
        self._client = client
        self.model = settings.judge_model
        self.where = settings.llm_endpoint or self.own_api

    @property
    def sdk(self) -> ModuleType:
        return _sdk(self.sdk_name)

    def _api_key(self) -> str | None:
        return self._settings.llm_key

    def _get_client(self) -> Any:
        if self._client is None:
            self._client = getattr(self.sdk, self.client_class)(
                api_key=self._api_key(),
                base_url=self._settings.llm_endpoint,
                timeout=self._settings.llm_timeout,
                max_retries=self._settings.llm_max_retries,
            )
        return self._client

    def warm_up(self) -> None:
        self._get_client()


class AnthropicMessages(_SdkProvider):
    sdk_name, client_class, own_api = "anthropic", "Anthropic", "Anthropic's API"

    def ask(self, system: str, prompt: str, tool: str, description: str, schema: dict[str, Any]) -> Any:
        try:
            message = self._get_client().messages.create(
                model=self.model,
                max_tokens=1024,
                system=system,
                messages=[{"role": "user", "content": prompt}],
                tools=[{"name": tool, "description": description, "input_schema": schema}],
                tool_choice={"type": "tool", "name": tool},
            )
        except self.sdk.APIError as exc:
            raise JudgeUnavailable(f"LLM call failed: {type(exc).__name__}: {exc}") from exc
        blocks = [block for block in message.content if getattr(block, "type", None) == "tool_use"]
        if not blocks:
            raise JudgeUnavailable("LLM answered without calling the tool")
        return blocks[0].input

    def ping(self, timeout: float) -> None:
        client = self._get_client().with_options(timeout=timeout, max_retries=0)
        client.messages.create(model=self.model, max_tokens=1, messages=[{"role": "user", "content": "ping"}])


class OpenAIChat(_SdkProvider):
    """Chat completions with a forced function call; after a server refuses tools (HTTP 400) or
    answers one without calling the function, this judge asks for JSON instead from then on."""

    sdk_name, client_class, own_api = "openai", "OpenAI", "OpenAI's API"

    def __init__(self, settings: Settings, client: Any = None) -> None:
        super().__init__(settings, client)
        self.tools = True

    def _api_key(self) -> str | None:
        # A local server wants no key, but the SDK refuses to start without one.
        return self._settings.llm_key or "not-needed"

    def _create(self, **request: Any) -> Any:
        try:
            return self._get_client().chat.completions.create(model=self.model, max_tokens=1024, **request)
        except self.sdk.APIError as exc:
            raise JudgeUnavailable(f"LLM call failed: {type(exc).__name__}: {exc}") from exc

    def ask(self, system: str, prompt: str, tool: str, description: str, schema: dict[str, Any]) -> Any:
        if self.tools:
            try:
                reply = self._with_tool(system, prompt, tool, description, schema)
            except JudgeUnavailable as exc:
                if not isinstance(exc.__cause__, self.sdk.BadRequestError):
                    raise
                reply = None
            if reply is not None:
                return reply
            log.warning("%s did not call the %s function; asking it for JSON from now on", self.where, tool)
            self.tools = False
        instructions = JSON_INSTRUCTIONS.format(tool=tool, schema=json.dumps(schema))
        completion = self._create(
            messages=[
                {"role": "system", "content": system + instructions},
                {"role": "user", "content": prompt},
            ]
        )
        return strict_json(_content(completion))

    def _with_tool(
        self, system: str, prompt: str, tool: str, description: str, schema: dict[str, Any]
    ) -> Any | None:
        """The function's arguments, or None when the server answered without calling it."""
        completion = self._create(
            messages=[{"role": "system", "content": system}, {"role": "user", "content": prompt}],
            tools=[
                {
                    "type": "function",
                    "function": {"name": tool, "description": description, "parameters": schema},
                }
            ],
            tool_choice={"type": "function", "function": {"name": tool}},
        )
        calls = [
            call for call in (completion.choices[0].message.tool_calls or []) if call.function.name == tool
        ]
        if calls:
            return strict_json(calls[0].function.arguments)
        try:  # some servers put the arguments in the text instead
            return strict_json(_content(completion, required=False))
        except JudgeUnavailable:
            return None

    def ping(self, timeout: float) -> None:
        client = self._get_client().with_options(timeout=timeout, max_retries=0)
        client.chat.completions.create(
            model=self.model, max_tokens=1, messages=[{"role": "user", "content": "ping"}]
        )


def _content(completion: Any, required: bool = True) -> str:
    choices = getattr(completion, "choices", None) or []
    content = choices[0].message.content if choices else None
    if content is None and required:
        raise JudgeUnavailable("LLM answered with no content")
    return content or ""


def strict_json(text: str) -> Any:
    """One JSON object, alone or inside one ``` fence; anything else is a malformed answer."""
    body = text.strip()
    if body.startswith("```") and body.endswith("```"):
        body = body[3:-3].removeprefix("json").strip()
    try:
        value = json.loads(body)
    except json.JSONDecodeError as exc:
        raise JudgeUnavailable(f"LLM answer is not JSON: {exc.msg} at character {exc.pos}") from None
    if not isinstance(value, dict):
        raise JudgeUnavailable(f"LLM answer is JSON {type(value).__name__}, not an object")
    return value


PROVIDERS: dict[str, Callable[[Settings], Any]] = {"anthropic": AnthropicMessages, "openai": OpenAIChat}
