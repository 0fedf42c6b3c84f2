"""Key operations on the database store are serialised across processes (hosts): real parallel processes,
each with its own app and connection, race on one database (PostgreSQL: ``pg_advisory_xact_lock``;
SQLite: its write lock)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import PEPPER
from conftest import ROOT
from conftest import _base_config
from conftest import _empty_tables
from sqlalchemy import create_engine

from authserver import create_app
from authserver.keys import lifecycle
from authserver.settings import normalize_database_url
from authserver.store.database import engine_options
from authserver.store.signing_keys import DatabaseKeyStore

RACERS = 4
DAY = 86400
POLICY = lifecycle.Policy(jwks_max_age=300, reload_interval=10, token_lifetime=3600, rotation_period=30 * DAY)

# Each process builds its app (as `authserver keys ...` does), waits for the go-file, then runs one step.
RACER = """
import json, sys, time
from pathlib import Path
from authserver import create_app
from authserver.admin import keys
from authserver.keys.storage import ensure_development_key
from authserver.store import stores_of
step, go = sys.argv[1], Path(sys.argv[2])
app = create_app({"KEYS_REQUIRED": False})
print("ready", flush=True)
deadline = time.monotonic() + 60
while not go.exists() and time.monotonic() < deadline:
    time.sleep(0.002)
with app.app_context():
    if step == "rotate":
        actions = keys.rotate(if_due=True)
        print(json.dumps({"activated": actions.activated, "generated": actions.generated}), flush=True)
    elif step == "activate":
        print(json.dumps({"activated": keys.activate(sys.argv[3]).activated}), flush=True)
    elif step == "dev-key":
        record = ensure_development_key(stores_of(app).signing_keys, int(time.time()))
        print(json.dumps({"created": record.kid if record else None}), flush=True)
    elif step == "hold":
        with stores_of(app).signing_keys.changing(None):
            print(json.dumps({"holding": time.time()}), flush=True)
            time.sleep(float(sys.argv[3]))
        print(json.dumps({"released": time.time()}), flush=True)
"""


def _env(database) -> dict[str, str]:
    return {
        **os.environ,
        "AUTHSERVER_ENV": "development",
        "AUTHSERVER_ISSUER": "https://auth.test",
        "AUTHSERVER_DATABASE_URL": database.url,
        "AUTHSERVER_KEYS_STORE": "database",
        "AUTHSERVER_KEYS_DIR": "/nonexistent/keys",
        "AUTHSERVER_SECRET_PEPPER": PEPPER,
        "AUTHSERVER_KEY_ROTATION_PERIOD": str(POLICY.rotation_period),
    }


def race(database, tmp_path: Path, *argvs: list[str]) -> list[dict]:
    """Start one racer per argv, release them together, and return each one's JSON lines."""
    go = tmp_path / f"go-{time.monotonic_ns()}"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, argv[0], str(go), *argv[1:]],
            env=_env(database),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for argv in argvs
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
    assert [p.returncode for p in procs] == [0] * len(procs), [err[-2000:] for _out, err in outputs]
    return [[json.loads(line) for line in out.splitlines()] for out, _err in outputs]


@pytest.fixture
def store(database, keys_dir) -> DatabaseKeyStore:
    app = create_app(_base_config(database.url, keys_dir))
    _empty_tables(app)
    url = normalize_database_url(database.url)
    return DatabaseKeyStore(create_engine(url, **engine_options(url)))


def test_concurrent_rotations_activate_exactly_one_key(database, store, tmp_path):
    """Two operators or CronJobs at once: a key older than the rotation period and a next key long past its
    publish delay. Every racer sees the step due; exactly one takes it, the others find nothing to do."""
    now = int(time.time())
    old = lifecycle.generate_first(store, POLICY, now - 40 * DAY)
    nxt = lifecycle.generate(store, POLICY, now - 2 * DAY)
    results = race(database, tmp_path, *[["rotate"]] * RACERS)
    activated = [kid for [result] in results for kid in result["activated"]]
    assert activated == [nxt.kid], results
    assert all(result["generated"] == [] for [result] in results), results
    assert {r.kid: r.state for r in store.records()} == {old.kid: "retired", nxt.kid: "active"}


def test_concurrent_activations_of_different_keys_leave_exactly_one_active(database, store, tmp_path):
    """Two operators activating two different next keys at once: serialised, the later one wins, and the
    store never holds two active keys (each activation retires the active key it finds under the lock)."""
    now = int(time.time())
    lifecycle.generate_first(store, POLICY, now - 40 * DAY)
    candidates = [lifecycle.generate(store, POLICY, now - 2 * DAY) for _ in range(2)]
    results = race(database, tmp_path, *[["activate", c.kid] for c in candidates])
    assert sorted(kid for [result] in results for kid in result["activated"]) == sorted(c.kid for c in candidates)
    records = store.records()
    assert [r.state for r in records].count("active") == 1
    assert store.load(None).signing.record.kid in {c.kid for c in candidates}


def test_concurrent_starts_create_exactly_one_development_key(database, store, tmp_path):
    results = race(database, tmp_path, *[["dev-key"]] * RACERS)
    created = [result["created"] for [result] in results if result["created"]]
    assert len(created) == 1, results
    assert [(r.kid, r.state) for r in store.records()] == [(created[0], "active")]


def test_a_change_waits_for_the_one_that_holds_the_lock(database, store, tmp_path):
    """One process holds the key set's lock for 2 s; another's rotation starts at once but completes only
    after the holder released it, and then sees the holder's state."""
    now = int(time.time())
    lifecycle.generate_first(store, POLICY, now - 40 * DAY)
    lifecycle.generate(store, POLICY, now - 2 * DAY)
    env = _env(database)

    def start(step: str, go: Path, *args: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-c", RACER, step, str(go), *args],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        return proc

    holder = start("hold", tmp_path / "go-hold", "2")
    rotator = start("rotate", tmp_path / "go-rotate")
    (tmp_path / "go-hold").touch()
    holding = json.loads(holder.stdout.readline())["holding"]
    (tmp_path / "go-rotate").touch()
    out, err = rotator.communicate(timeout=60)
    finished = time.time()
    held_out, held_err = holder.communicate(timeout=60)
    assert rotator.returncode == 0 and holder.returncode == 0, err + held_err
    released = json.loads(held_out.splitlines()[-1])["released"]
    assert finished >= released > holding + 1.9, (holding, released, finished)
    assert len(json.loads(out)["activated"]) == 1
