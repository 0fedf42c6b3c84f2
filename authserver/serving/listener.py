"""One listener's process: ``python -m authserver.serving.listener NAME SPEC``, started by the supervisor.

``SPEC`` is the JSON of the listener and the serve options (:func:`encode`); the process runs granian for
that listener until SIGTERM or SIGINT, then stops it gracefully (granian's own handling).
"""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import Any

from authserver.serving.options import Bind
from authserver.serving.options import ServeOptions
from authserver.serving.runner import Listener
from authserver.serving.runner import build


def encode(listener: Listener, options: ServeOptions) -> str:
    return json.dumps({"listener": dataclasses.asdict(listener), "options": dataclasses.asdict(options)})


def _bind(value: dict[str, Any] | None) -> Bind | None:
    return None if value is None else Bind(**value)


def decode(spec: str) -> tuple[Listener, ServeOptions]:
    data = json.loads(spec)
    listener = Listener(**{**data["listener"], "bind": Bind(**data["listener"]["bind"])})
    raw = data["options"]
    options = ServeOptions(
        **{**raw, "admin_bind": _bind(raw["admin_bind"]), "management_bind": _bind(raw["management_bind"])}
    )
    return listener, options


def main(argv: list[str]) -> None:
    listener, options = decode(argv[2])
    build(listener, options).serve()


if __name__ == "__main__":
    main(sys.argv)
