"""`python -m smpsim.bench`: the same as `scripts/bench.py` and `smpsim bench`."""

import sys

from smpsim.bench.command import main

sys.exit(main())
