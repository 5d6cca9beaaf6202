"""The Claude Desktop bundle's entry point: `remembrancer serve` over stdio.

The host runs `uv run --directory <bundle> main.py` (see manifest.json): uv installs the
project described by the bundle's pyproject.toml, then this starts the server.
"""

import sys

from remembrancer.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
