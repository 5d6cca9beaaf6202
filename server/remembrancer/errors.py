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
    pass


class StoreBusy(StoreError):
    pass


class JudgeUnavailable(RemembrancerError):
    """The judge could not give a valid decision (outage, timeout, malformed answer)."""
