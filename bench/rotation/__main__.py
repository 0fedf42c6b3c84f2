"""``python -m bench.rotation``: the rotation-under-load check (see the package docstring)."""

import sys

from bench.rotation.run import main

sys.exit(main())
