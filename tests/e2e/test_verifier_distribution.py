"""The verifier is its own distribution: installed alone into a fresh virtualenv, it brings none of the
server's stack, imports, and its own tests pass there (issue 13: a resource service that only checks
tokens must not install Flask, SQLAlchemy, psycopg, argon2, gunicorn or redis).

Slow (pip fetches cryptography and the test extras from the index, or its cache): about half a minute.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

VERIFIER = ROOT / "verifier"
#: Distributions of the server's stack, none of which the verifier (without extras) may pull in.
SERVER_STACK = {
    "flask",
    "werkzeug",
    "sqlalchemy",
    "flask-sqlalchemy",
    "flask-migrate",
    "psycopg",
    "psycopg-binary",
    "argon2-cffi",
    "gunicorn",
    "redis",
    "authlib",
    "joserfc",
    "authserver",
}
#: What ``pip install ./verifier`` may install: the verifier, cryptography and cryptography's own needs.
EXPECTED = {"authserver-verifier", "cryptography", "cffi", "pycparser", "pip", "setuptools", "wheel"}


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run a command away from the checkout (``python -c`` puts the working directory on sys.path)."""
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(map(str, args))}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def installed(python: Path, cwd: Path) -> set[str]:
    code = "import importlib.metadata as m, json; print(json.dumps([d.metadata['Name'] for d in m.distributions()]))"
    return {name.lower().replace("_", "-") for name in json.loads(run(python, "-c", code, cwd=cwd))}


IMPORT = "import sys, authserver_verifier, authserver_verifier.wsgi, authserver_verifier.asgi; "
LOADED = "print(authserver_verifier.__file__, *sorted({m.split('.')[0] for m in sys.modules}))"


@pytest.mark.slow
def test_verifier_installs_alone_without_the_server_stack_and_its_tests_pass_there(tmp_path: Path):
    # A copy, so that the build leaves nothing behind in the checkout (egg-info, build/).
    source = tmp_path / "verifier"
    shutil.copytree(
        VERIFIER,
        source,
        ignore=shutil.ignore_patterns("*.egg-info", "build", "__pycache__", ".pytest_cache", ".hypothesis"),
    )
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    pip = (python, "-m", "pip", "--disable-pip-version-check", "install", "--quiet")

    run(*pip, source, cwd=tmp_path)
    dists = installed(python, tmp_path)
    assert "authserver-verifier" in dists and "cryptography" in dists
    assert not dists & SERVER_STACK, f"pip install ./verifier installed {sorted(dists & SERVER_STACK)}"
    assert dists <= EXPECTED, f"unexpected dependencies: {sorted(dists - EXPECTED)}"
    location, *modules = run(python, "-c", IMPORT + LOADED, cwd=source).split()
    assert location.startswith(str(venv)), location  # the installed package, not the copy's sources
    assert not {"flask", "werkzeug", "sqlalchemy", "psycopg", "authserver"} & set(modules)

    run(*pip, f"{source}[test]", cwd=tmp_path)
    # The verifier's own tests, from its own directory (its pyproject's pytest settings), against the
    # installed package: never this checkout's sources, never the server's conftest.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["AUTHSERVER_FUZZ_EXAMPLES"] = "50"  # the full fuzz runs in the main suite; here: that it runs
    out = run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests", cwd=source, env=env)
    summary = out.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary and "error" not in summary, out[-2000:]
