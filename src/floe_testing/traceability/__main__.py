"""``python -m floe_testing.traceability``; see :mod:`floe_testing.traceability.cli`."""

from __future__ import annotations

import sys

from floe_testing.traceability.cli import main

if __name__ == "__main__":
    sys.exit(main())
