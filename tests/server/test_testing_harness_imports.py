"""The test harness (authserver.testing) is for tests/ and bench/ only: the server never imports it."""

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "authserver"


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_no_server_module_imports_the_testing_harness():
    offenders = sorted(
        str(path.relative_to(PACKAGE.parent))
        for path in PACKAGE.rglob("*.py")
        if "testing" not in path.relative_to(PACKAGE).parts
        and any(
            name == "authserver.testing" or name.startswith("authserver.testing.") for name in _imported_modules(path)
        )
    )
    assert offenders == []


def test_creating_the_app_loads_no_testing_module(tmp_path):
    code = (
        "import sys; from authserver import create_app; "
        f"create_app({{'ENV': 'development', 'DATABASE_URL': 'sqlite:///{tmp_path}/x.db', "
        f"'KEYS_DIR': '{tmp_path}/keys'}}); "
        "print(sorted(m for m in sys.modules if m.startswith('authserver.testing')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
