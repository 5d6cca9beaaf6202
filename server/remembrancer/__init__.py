"""Remembrancer: a long-term memory for MCP assistants."""

import os

# Set before numpy loads. Its BLAS threads spin between the small matrix products of a vector
# search and take the second core from the query's embedding and full-text search: on 2 cores,
# recall at 10k memories took about 32 ms at the service with them and 12 ms without.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def package_version(unknown: str = "0") -> str:
    """The installed package's version, or ``unknown`` when it runs from a source tree."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("remembrancer")
    except PackageNotFoundError:
        return unknown
