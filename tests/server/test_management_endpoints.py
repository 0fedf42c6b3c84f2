"""The management listener's app: /livez never touches the database, /readyz names every failing reason
(503), /version says what runs, and none of it is on the public listener."""

from __future__ import annotations

import json
import shutil
import socket
import time
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlalchemy import text

from authserver import create_management_app
from authserver.extensions import db
from authserver.keys.keystore import MANIFEST
from authserver.serving import runtime
from authserver.store.schema import code_revisions
from authserver.testing import apps
from authserver.testing.databases import drop_pg_database
from authserver.testing.databases import fresh_database


def _dispose(app) -> None:
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def own_database(database, tmp_path, keys_dir):
    """A migrated database of this test's own (its schema revision gets changed)."""
    with fresh_database(database.backend, tmp_path, keys_dir, prefix="authserver_mgmt") as fresh:
        yield fresh


def test_the_public_listener_has_no_management_routes(client):
    for path in ("/readyz", "/metrics", "/version", "/livez"):
        assert client.get(path).status_code == 404, path
    assert client.get("/healthz").json == {"status": "ok"}  # kept public: see authserver/views/health.py


def test_ready_when_database_schema_and_keys_are_fine(management):
    resp = management.get("/readyz")
    assert resp.status_code == 200, resp.json
    assert resp.json["status"] == "ready"
    assert resp.json["schema"]["current"] == resp.json["schema"]["head"] == code_revisions()[0]
    assert resp.headers["Cache-Control"] == "no-store"


def test_livez_answers_without_touching_the_database(app, management):
    statements: list[str] = []
    other = management.application
    with other.app_context():
        event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    assert management.get("/readyz").status_code == 200
    assert statements, "readiness asks the database"
    statements.clear()
    for _ in range(3):
        resp = management.get("/livez")
        assert resp.status_code == 200 and resp.json == {"status": "alive"}
    assert statements == []


def test_database_unreachable_fails_readiness_but_not_liveness(database, keys_dir, tmp_path):
    url = (
        "postgresql://127.0.0.1:1/nothing"
        if database.backend == "postgresql"
        else "sqlite:///" + str(tmp_path / "missing-directory" / "a.db")
    )
    app = create_management_app(apps.app_config(url, keys_dir))
    client = app.test_client()
    assert client.get("/livez").status_code == 200
    resp = client.get("/readyz")
    assert resp.status_code == 503
    assert resp.json["status"] == "not_ready" and resp.json["reasons"] == ["database_unreachable"]
    version = client.get("/version")
    assert version.status_code == 200 and version.json["schema"]["database_reachable"] is False
    _dispose(app)


def test_a_dropped_database_turns_readiness_503(database, keys_dir, tmp_path):
    if database.backend != "postgresql":
        pytest.skip("a database dropped under a running server: PostgreSQL")
    with fresh_database("postgresql", tmp_path, keys_dir, prefix="authserver_mgmt_drop") as fresh:
        app = create_management_app(apps.app_config(fresh.url, keys_dir))
        client = app.test_client()
        assert client.get("/readyz").status_code == 200
        drop_pg_database(fresh.url.rsplit("/", 1)[1])
        resp = client.get("/readyz")
        assert resp.status_code == 503 and resp.json["reasons"] == ["database_unreachable"]
        assert client.get("/livez").status_code == 200
        _dispose(app)


def _set_revision(app, revision: str) -> None:
    with app.app_context():
        db.session.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
        db.session.commit()


def test_schema_behind_the_code_says_schema_behind_and_ahead_is_still_ready(own_database, keys_dir):
    app = create_management_app(apps.app_config(own_database.url, keys_dir))
    client = app.test_client()
    previous = code_revisions()[1]
    _set_revision(app, previous)
    resp = client.get("/readyz")
    assert resp.status_code == 503
    assert resp.json["reasons"] == ["schema_behind"]
    assert "authserver db upgrade" in resp.json["details"]["schema_behind"]
    assert resp.json["schema"] == {"current": previous, "head": code_revisions()[0]}
    assert client.get("/version").json["schema"]["database"] == previous

    _set_revision(app, "ffffffffffff")  # a later release migrated it: expand/contract keeps this one serving
    assert client.get("/readyz").status_code == 200
    _dispose(app)


def test_a_failed_key_reload_fails_readiness_until_a_reload_succeeds(database, keys_dir, tmp_path):
    keys = tmp_path / "keys"
    shutil.copytree(keys_dir, keys)
    app = create_management_app(apps.app_config(database.url, keys, KEYS_RELOAD_INTERVAL=1))
    client = app.test_client()
    assert client.get("/readyz").status_code == 200
    good = (keys / MANIFEST).read_text()
    manifest = json.loads(good)
    manifest["keys"].append({**manifest["keys"][0], "kid": "missing-key", "state": "next"})
    (keys / MANIFEST).write_text(json.dumps(manifest))
    time.sleep(1.1)
    resp = client.get("/readyz")
    assert resp.status_code == 503 and resp.json["reasons"] == ["key_reload_failed"]
    assert str(keys) not in resp.get_data(as_text=True), "no paths on a probe"
    metrics = client.get("/metrics").get_data(as_text=True)
    assert "authserver_key_reload_healthy 0.0" in metrics and "authserver_ready 0.0" in metrics

    (keys / MANIFEST).unlink()
    (keys / MANIFEST).write_text(good)  # a new file: the reload sees a change
    time.sleep(1.1)
    assert client.get("/readyz").status_code == 200
    _dispose(app)


def test_draining_and_a_closed_public_listener_fail_readiness(app, monkeypatch, database, keys_dir):
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen()
    port = listening.getsockname()[1]
    with runtime.created("0.0.0.0", port) as rt:
        monkeypatch.setenv(runtime.RUNTIME_DIR_VARIABLE, str(rt.path))
        other = create_management_app(apps.app_config(database.url, keys_dir))
        client = other.test_client()
        assert client.get("/readyz").status_code == 200
        rt.start_draining()
        resp = client.get("/readyz")
        assert resp.status_code == 503 and resp.json["reasons"] == ["draining"]
        listening.close()
        resp = client.get("/readyz")
        assert resp.json["reasons"] == ["draining", "public_listener_down"]
        assert client.get("/livez").status_code == 200
        _dispose(other)
    assert not Path(rt.path).exists(), "the runtime directory is removed with its server"


def test_version_names_the_release_and_both_schema_revisions(management):
    resp = management.get("/version")
    assert resp.status_code == 200
    assert resp.json["version"] == "0.1.0"
    assert resp.json["schema"] == {
        "database": code_revisions()[0],
        "code_head": code_revisions()[0],
        "database_reachable": True,
    }
