"""The one place that reads the environment and holds the defaults.

Every setting has an environment variable (``REMEMBRANCER_*``) and a default; the command
line may override a few of them (``--db``, ``--host``, ``--port``, ``--scope``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from remembrancer.errors import ConfigError
from remembrancer.storage.rows import is_database_uri

#: The bundled model: all-MiniLM-L6-v2 quantized to int8, loaded from local files only.
BUNDLED_MODEL = "all-MiniLM-L6-v2-q8"
#: A small, fast current model: the judge answers one short structured question per call.
DEFAULT_LLM_MODEL = "claude-haiku-5-5"
SCOPE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,63}$"
#: SCOPE_PATTERN in words, for every message that refuses a scope name.
SCOPE_RULE = "use 1-64 ASCII letters, digits and _ . : @ / -, starting with a letter or digit"


def default_db_path() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("remembrancer", appauthor=False)) / "memory.db"


class Settings(BaseModel):
    """Every setting, its environment variable in ``ENV_NAMES`` below."""

    model_config = ConfigDict(frozen=True)

    # A SQLite file, or a postgresql:// URI (the Postgres engine, `remembrancer[postgres]`).
    db_path: Path | str = Field(default_factory=default_db_path)
    default_scope: str = "default"
    embedding_model: str = BUNDLED_MODEL
    # A repeat needs this cosine similarity *and* the local judge's reading of both texts (no
    # value, name, negation or subject differs). bench/dedup_threshold.py on STS-B dev pairs with
    # both, 0.73 is the lowest with precision >= 0.95; 0.78 keeps a margin (0.974 / recall 0.424)
    # and folds as many of bench/changed_facts.py's rewordings.
    duplicate_threshold: float = Field(default=0.78, gt=0.0, le=1.0)
    # recall leaves out memories whose score (0-1, relevance.py) is below this. On LoCoMo dev
    # and bench/absent_topics.json, 0.23 returns nothing for most questions about things never
    # stored (0.64 of them there, 0.78 on a personal store) and keeps R@5 within 0.01 of no
    # floor (bench/RESULTS.md).
    min_score: float = Field(default=0.23, ge=0.0, le=1.0)
    max_content_bytes: int = Field(default=32_768, ge=64)
    max_metadata_bytes: int = Field(default=16_384, ge=64)
    max_tags: int = Field(default=32, ge=1)
    # The zone relative times ("yesterday") and dates without a zone are read in; the machine's
    # own when unset.
    timezone: str | None = None
    # How long a write waits for another process's write to finish before "the store is busy".
    busy_timeout: float = Field(default=30.0, gt=0, le=3600)
    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=1, le=65535)
    log_level: str = "INFO"
    # The LLM judge: Anthropic's Messages API, or any OpenAI-compatible chat-completions server.
    llm_provider: Literal["anthropic", "openai"] = "anthropic"
    llm_api_key: str | None = Field(default=None, repr=False)
    anthropic_api_key: str | None = Field(default=None, repr=False)  # kept for the anthropic provider
    llm_model: str | None = None  # the provider's default: DEFAULT_LLM_MODEL for Anthropic
    llm_base_url: str | None = None
    anthropic_base_url: str | None = None  # kept for the anthropic provider
    llm_timeout: float = Field(default=4.0, gt=0, le=120)
    llm_budget: float = Field(default=6.0, gt=0, le=300)
    llm_max_retries: int = Field(default=2, ge=0, le=10)
    llm_min_similarity: float = Field(default=0.35, ge=-1.0, le=1.0)
    review_interval: float = Field(default=300.0, ge=0)
    auth_token: str | None = Field(default=None, repr=False)
    auth_tokens_file: Path | None = None
    auth: str = Field(default="on", pattern="^(on|off)$")
    allowed_hosts: str = ""
    max_request_bytes: int = Field(default=1_048_576, ge=1024)
    # Streamable HTTP without sessions: each request stands alone, so any of several servers
    # behind a load balancer can answer it (the tools need nothing a session would keep).
    stateless: bool = False

    @property
    def llm_key(self) -> str | None:
        """The API key the judge sends (a local OpenAI-compatible server may need none)."""
        if self.llm_api_key:
            return self.llm_api_key
        return self.anthropic_api_key if self.llm_provider == "anthropic" else None

    @property
    def llm_endpoint(self) -> str | None:
        """The base URL the judge calls; None: the provider's own API."""
        if self.llm_base_url:
            return self.llm_base_url
        return self.anthropic_base_url if self.llm_provider == "anthropic" else None

    @property
    def judge_model(self) -> str:
        return self.llm_model or DEFAULT_LLM_MODEL

    @property
    def llm_enabled(self) -> bool:
        """Anthropic needs a key; an OpenAI-compatible server needs a key or a base URL."""
        if self.llm_provider == "anthropic":
            return bool(self.llm_key)
        return bool(self.llm_key or self.llm_endpoint)

    @model_validator(mode="after")
    def _openai_needs_a_model(self) -> Settings:
        if self.llm_provider == "openai" and self.llm_enabled and not self.llm_model:
            raise ValueError(
                "REMEMBRANCER_LLM_PROVIDER=openai needs REMEMBRANCER_LLM_MODEL: the name of a model"
                " the server serves (e.g. llama3.2 on Ollama)"
            )
        return self

    @property
    def zone(self) -> tzinfo:
        if self.timezone:
            return ZoneInfo(self.timezone)
        local = datetime.now().astimezone().tzinfo
        return local if local is not None else UTC

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(
                    f"unknown time zone {value!r}; use an IANA name such as Europe/Lisbon"
                ) from None
        return value

    @field_validator("default_scope")
    @classmethod
    def _scope_name(cls, value: str) -> str:
        if not re.fullmatch(SCOPE_PATTERN, value):
            raise ValueError(f"{value!r} is not a scope name: {SCOPE_RULE}")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @field_validator("db_path", mode="before")
    @classmethod
    def _file_or_uri(cls, value: Any) -> Any:
        """A database URI stays text (a path would fold its "//"); anything else is a path."""
        if isinstance(value, str) and not is_database_uri(value):
            return Path(value)
        return value

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with the given (non-None) values replaced and validated again."""
        values = self.model_dump()
        given = {key: value for key, value in overrides.items() if value is not None}
        values.update(given)
        # A bad value given as an option is named as the option, not as its variable.
        names = {**ENV_NAMES, **{key: OPTION_NAMES[key] for key in given if key in OPTION_NAMES}}
        return _validated(values, names)


ENV_NAMES: dict[str, str] = {
    "db_path": "REMEMBRANCER_DB",
    "default_scope": "REMEMBRANCER_SCOPE",
    "embedding_model": "REMEMBRANCER_EMBEDDING_MODEL",
    "duplicate_threshold": "REMEMBRANCER_DUPLICATE_THRESHOLD",
    "min_score": "REMEMBRANCER_MIN_SCORE",
    "max_content_bytes": "REMEMBRANCER_MAX_CONTENT_BYTES",
    "max_metadata_bytes": "REMEMBRANCER_MAX_METADATA_BYTES",
    "max_tags": "REMEMBRANCER_MAX_TAGS",
    "timezone": "REMEMBRANCER_TIMEZONE",
    "busy_timeout": "REMEMBRANCER_BUSY_TIMEOUT",
    "host": "REMEMBRANCER_HOST",
    "port": "REMEMBRANCER_PORT",
    "log_level": "REMEMBRANCER_LOG_LEVEL",
    "llm_provider": "REMEMBRANCER_LLM_PROVIDER",
    "llm_api_key": "REMEMBRANCER_LLM_API_KEY",
    "anthropic_api_key": "ANTHROPIC_API_KEY",
    "llm_model": "REMEMBRANCER_LLM_MODEL",
    "llm_base_url": "REMEMBRANCER_LLM_BASE_URL",
    "anthropic_base_url": "ANTHROPIC_BASE_URL",
    "llm_timeout": "REMEMBRANCER_LLM_TIMEOUT",
    "llm_budget": "REMEMBRANCER_LLM_BUDGET",
    "llm_max_retries": "REMEMBRANCER_LLM_MAX_RETRIES",
    "llm_min_similarity": "REMEMBRANCER_LLM_MIN_SIMILARITY",
    "review_interval": "REMEMBRANCER_REVIEW_INTERVAL",
    "auth_token": "REMEMBRANCER_AUTH_TOKEN",
    "auth_tokens_file": "REMEMBRANCER_AUTH_TOKENS_FILE",
    "auth": "REMEMBRANCER_AUTH",
    "allowed_hosts": "REMEMBRANCER_ALLOWED_HOSTS",
    "max_request_bytes": "REMEMBRANCER_MAX_REQUEST_BYTES",
    "stateless": "REMEMBRANCER_STATELESS",
}


#: The command-line options that override a setting.
OPTION_NAMES: dict[str, str] = {
    "db_path": "--db",
    "host": "--host",
    "port": "--port",
    "default_scope": "--scope",
}


def _validated(values: Mapping[str, Any], names: Mapping[str, str] = ENV_NAMES) -> Settings:
    try:
        return Settings(**values)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            message = error["msg"].removeprefix("Value error, ")
            if not error["loc"]:  # a rule across settings names them itself
                problems.append(message)
                continue
            field = str(error["loc"][0])
            problems.append(f"{names.get(field, field)}: {message}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from the environment (``os.environ`` unless given), defaults for the rest."""
    env = os.environ if environ is None else environ
    values = {field: env[name] for field, name in ENV_NAMES.items() if env.get(name, "").strip()}
    return _validated(values)
