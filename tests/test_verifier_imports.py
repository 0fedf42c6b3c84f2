"""Resource services import the verifier without the server's stack (issue 5)."""

import subprocess
import sys


def test_importing_authserver_verifier_loads_no_flask_sqlalchemy_or_authlib():
    code = ("import sys, authserver.verifier; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'flask', 'sqlalchemy', 'flask_sqlalchemy', 'flask_migrate', 'authlib', 'psycopg'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
