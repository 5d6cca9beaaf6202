import sys

from remembrancer.cli import main

sys.exit(main())
