"""Remembrancer: a long-term memory for MCP assistants."""


def package_version(unknown: str = "0") -> str:
    """The installed package's version, or ``unknown`` when it runs from a source tree."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("remembrancer")
    except PackageNotFoundError:
        return unknown
