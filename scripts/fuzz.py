#!/usr/bin/env python3
"""The mutation campaign (tests/fuzz/engine.py) from the command line; docs/testing.md.

    .venv/bin/python scripts/fuzz.py --inputs 1000000 --seed 1
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fuzz.engine import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
