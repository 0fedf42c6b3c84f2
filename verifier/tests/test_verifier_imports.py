"""The verifier stands alone: it imports the standard library and ``cryptography``, nothing of the server.

Flask is imported only by the Flask adapter (the ``flask`` extra), joserfc only by the test helper
(the ``test`` extra). The server's own test suite installs a fresh virtualenv with the verifier alone
(tests/e2e/test_verifier_distribution.py); these tests hold in any environment.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import authserver_verifier

PACKAGE = Path(authserver_verifier.__file__).resolve().parent
RUNTIME = {"authserver_verifier", "cryptography"}
#: The only modules allowed a third-party import beyond the runtime's, and which one.
OPTIONAL = {"flask.py": "flask", "testing.py": "joserfc"}
SERVER_STACK = {
    "authserver",
    "flask",
    "werkzeug",
    "sqlalchemy",
    "flask_sqlalchemy",
    "flask_migrate",
    "authlib",
    "psycopg",
    "argon2",
    "gunicorn",
    "redis",
    "joserfc",
    "requests",
}


def imported_top_levels(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_verifier_modules_import_only_the_standard_library_and_cryptography():
    modules = sorted(PACKAGE.glob("*.py"))
    assert len(modules) > 10, PACKAGE
    for path in modules:
        allowed = RUNTIME | set(sys.stdlib_module_names) | {OPTIONAL.get(path.name, "")}
        assert imported_top_levels(path) <= allowed, f"{path.name} imports {imported_top_levels(path) - allowed}"


def test_importing_authserver_verifier_loads_no_flask_sqlalchemy_or_authlib():
    code = (
        "import sys, authserver_verifier, authserver_verifier.wsgi, authserver_verifier.asgi; "
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {SERVER_STACK!r}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_package_is_typed():
    assert (PACKAGE / "py.typed").is_file()  # PEP 561: type checkers use the verifier's annotations
