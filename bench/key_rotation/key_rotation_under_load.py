#!/usr/bin/env python3
"""Signing-key rotation under load: the entry script (the check itself is the ``bench.key_rotation`` package).

    .venv/bin/python bench/key_rotation/key_rotation_under_load.py [--rotations 3] [--duration 0] ...

is ``.venv/bin/python -m bench.key_rotation ...`` run from the repository root; see README.md here.
"""

import runpy
import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root, so `bench` imports
    runpy.run_module("bench.key_rotation", run_name="__main__", alter_sys=True)
