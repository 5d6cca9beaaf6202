"""The exceptions Remembrancer raises on purpose.

    RemembrancerError          anything we anticipated; the message says what to do
    ├── ConfigError            a setting is invalid
    ├── InvalidInput           a caller's argument is wrong (empty content, bad tag, ...)
    ├── NotFound               an id or scope names nothing that exists
    ├── StoreError             the store cannot be used as it is
    │   ├── ModelMismatch      the store was embedded with another model
    │   └── StoreBusy          another process held the store past the busy timeout: retry
    └── JudgeUnavailable       the LLM judge gave no valid decision (caught: the local judge steps in)

Anything else that escapes is a bug.
"""

from __future__ import annotations


class RemembrancerError(Exception):
    """An anticipated failure whose message tells the user what to fix."""


class ConfigError(RemembrancerError):
    pass


class InvalidInput(RemembrancerError):
    pass


class NotFound(RemembrancerError):
    pass


class StoreError(RemembrancerError):
    pass


class ModelMismatch(StoreError):
    @classmethod
    def between(
        cls, recorded: tuple[str | None, str | None], model: str, dim: int, where: str
    ) -> ModelMismatch:
        return cls(
            f"this store was embedded with {recorded[0]} ({recorded[1]} dimensions) but the "
            f"configured model is {model} ({dim} dimensions). Either set "
            f"REMEMBRANCER_EMBEDDING_MODEL={recorded[0]}, or re-embed every memory with the new "
            f"model: `remembrancer reembed --db {where}`."
        )


class StoreBusy(StoreError):
    pass


class JudgeUnavailable(RemembrancerError):
    """The judge could not give a valid decision (outage, timeout, malformed answer)."""
