"""``python -m bench.key_rotation.timed_cli HOW [ARGS...]``: one CLI command at a chosen moment.

The app is built first, then ``authserver ARGS`` runs through the app's own CLI group, so the
command's clock read lands on time. HOW ``fraction VALUE ARGS...``: once the clock's fraction of a
second reaches VALUE. HOW ``activate-next``: wait for a ``next`` key in the manifest, then run
``keys activate --json -- KID`` at the first second the CLI accepts it
(:func:`authserver.keys.lifecycle.activation_eligible_at` under the app's own policy). Prints the command's
output, and ``#called_at <unix time>`` on stderr.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from authserver import create_app
from authserver.keys.keystore import KeyRecord
from authserver.keys.keystore import KeystoreError
from authserver.keys.keystore import read_manifest
from authserver.keys.lifecycle import Policy
from authserver.keys.lifecycle import activation_eligible_at
from authserver.settings import current_settings


def _pending(keys_dir: Path, deadline: float) -> KeyRecord | None:
    while time.time() < deadline:
        try:
            pending = next((r for r in read_manifest(keys_dir) if r.state == "next"), None)
        except KeystoreError:  # caught mid-write
            pending = None
        if pending is not None:
            return pending
        time.sleep(0.005)
    return None


def main(argv: list[str]) -> int:
    how, *rest = argv
    app = create_app({"KEYS_REQUIRED": False})
    runner = app.test_cli_runner()
    deadline = time.time() + 60
    if how == "fraction":
        value, *args = rest
        while time.time() % 1 < float(value) and time.time() < deadline:
            time.sleep(0.001)
    elif how == "activate-next":
        pending = _pending(Path(current_settings(app).keys.keys_dir), deadline)
        if pending is None:
            return 3
        args = ["keys", "activate", "--json", "--", pending.kid]
        eligible = activation_eligible_at(pending, Policy.from_settings(current_settings(app).keys))
        while time.time() < eligible:
            time.sleep(0.001)
    else:
        print(f"unknown HOW {how!r}: fraction or activate-next", file=sys.stderr)
        return 2
    called = time.time()
    result = runner.invoke(args=args)
    sys.stdout.write(result.output)
    sys.stderr.write(f"#called_at {called:.4f}\n")
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
