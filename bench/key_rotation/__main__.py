"""``python -m bench.key_rotation``: the rotation-under-load check (see the package docstring)."""

import sys

from bench.key_rotation.run import main

sys.exit(main())
