"""The exceptions Remembrancer raises on purpose.

    RemembrancerError          anything we anticipated; the message says what to do
    ├── ConfigError            a setting is invalid
    ├── InvalidInput           a caller's argument is wrong (empty content, bad tag, ...)
    ├── NotFound               an id or scope names nothing that exists
    └── StoreError             the database file cannot be used as it is
        └── ModelMismatch      the store was embedded with another model

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
