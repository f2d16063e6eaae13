#!/usr/bin/env python3
"""Benchmark entry point (SPEC §7): see smpsim/bench/ (one module per benchmark), or `scripts/bench.py --help`.

Run with the project's environment: `.venv/bin/python scripts/bench.py [--smoke|--quick] [--out FILE]`.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from smpsim.bench import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
