"""``authserver db upgrade`` from every replica at once: the runs serialise on the migration lock
(PostgreSQL's advisory lock, SQLite's lock file), one migrates, the others find the database at head, and
none fails. Real parallel processes released together on a fresh, empty database."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy
from conftest import BACKENDS
from conftest import PEPPER
from conftest import ROOT
from conftest import _pg_admin
from conftest import _pg_url

from authserver.settings import normalize_database_url
from authserver.store.database import migration_lock
from authserver.store.schema import code_revisions

RUNS = 3

# Each process builds the app as `authserver db upgrade` does, waits for the go-file, then upgrades.
RACER = """
import sys, time
from pathlib import Path
from flask_migrate import upgrade
from authserver import create_app
go = Path(sys.argv[1])
app = create_app({"KEYS_REQUIRED": False, "MIGRATIONS": True})
print("ready", flush=True)
deadline = time.monotonic() + 60
while not go.exists() and time.monotonic() < deadline:
    time.sleep(0.002)
with app.app_context():
    upgrade()
print("done", flush=True)
"""


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    name = f"authserver_miglock_{uuid.uuid4().hex[:12]}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    try:
        yield _pg_url(name)
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _env(url: str, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "AUTHSERVER_ENV": "development",
        "AUTHSERVER_ISSUER": "https://auth.test",
        "AUTHSERVER_DATABASE_URL": url,
        "AUTHSERVER_KEYS_DIR": str(tmp_path / "keys"),
        "AUTHSERVER_SECRET_PEPPER": PEPPER,
    }


def _revisions(url: str) -> list[str]:
    engine = sqlalchemy.create_engine(normalize_database_url(url))
    try:
        with engine.connect() as conn:
            return [row[0] for row in conn.execute(sqlalchemy.text("SELECT version_num FROM alembic_version"))]
    finally:
        engine.dispose()


def test_concurrent_upgrades_end_at_head_once_without_error(empty_database_url: str, tmp_path: Path):
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(go)],
            env=_env(empty_database_url, tmp_path),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(RUNS)
    ]
    try:
        for proc in procs:
            line = proc.stdout.readline().strip()
            assert line == "ready", line + proc.stderr.read()
        go.touch()
        outputs = [proc.communicate(timeout=120) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    logs = [err for _out, err in outputs]
    assert [p.returncode for p in procs] == [0] * RUNS, [log[-3000:] for log in logs]
    assert [out.strip().splitlines()[-1] for out, _err in outputs] == ["done"] * RUNS
    head = code_revisions()[0]
    assert _revisions(empty_database_url) == [head]
    first = code_revisions()[-1]
    migrated = [log for log in logs if f"Running upgrade  -> {first}" in log]
    assert len(migrated) == 1, "exactly one run migrated; the others found the database at head"
    assert all(log.count("Running upgrade") == len(code_revisions()) for log in migrated)
    assert sum(log.count("Running upgrade") for log in logs) == len(code_revisions())


def test_the_db_upgrade_command_waits_for_a_run_in_progress(empty_database_url: str, tmp_path: Path):
    """Through the installed script: one upgrade runs while the lock is held elsewhere, and completes after."""
    url = normalize_database_url(empty_database_url)
    engine = sqlalchemy.create_engine(url)
    script = Path(sys.executable).with_name("authserver")
    with engine.connect() as holder, migration_lock(holder):
        run = subprocess.Popen(
            [str(script), "db", "upgrade"],
            env=_env(empty_database_url, tmp_path),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        seen = []
        while not any("another process is migrating this database; waiting" in line for line in seen):
            line = run.stderr.readline()
            assert line, "the upgrade ended without waiting for the lock: " + "".join(seen)[-3000:]
            seen.append(line)
        time.sleep(1)
        assert run.poll() is None, "the upgrade went on while the lock was held"
        assert _revisions_or_none(empty_database_url) is None
    _out, err = run.communicate(timeout=120)
    engine.dispose()
    assert run.returncode == 0, err[-3000:]
    assert _revisions(empty_database_url) == [code_revisions()[0]]


def _revisions_or_none(url: str) -> list[str] | None:
    try:
        return _revisions(url)
    except sqlalchemy.exc.SQLAlchemyError:
        return None
