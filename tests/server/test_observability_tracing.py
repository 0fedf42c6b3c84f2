"""OpenTelemetry traces, checked against a local OTLP/HTTP receiver this test starts: a password login is
one trace (the HTTP request's server span, its database statements, the argon2 verify, the JWT
signature), its log lines carry the trace id; and with ``AUTHSERVER_OTEL_ENDPOINT`` unset nothing of
OpenTelemetry is imported at all."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from authserver.telemetry import JsonFormatter
from authserver.telemetry.logs import RequestIds


class Receiver:
    """An OTLP/HTTP endpoint on 127.0.0.1: the spans POSTed to /v1/traces."""

    def __init__(self) -> None:
        self.spans: list = []
        self.paths: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.paths.append(self.path)
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                for resource in request.resource_spans:
                    for scope in resource.scope_spans:
                        receiver.spans.extend(scope.spans)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def receiver():
    found = Receiver()
    yield found
    found.close()


@pytest.fixture
def config_overrides(receiver):
    return {"OTEL_ENDPOINT": receiver.url}


def test_a_login_is_one_trace_with_database_argon2_and_jwt_spans(app, client, make_user, make_client, receiver):
    make_user()
    reg = make_client()
    receiver.spans.clear()
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append  # type: ignore[method-assign]
    handler.addFilter(RequestIds())
    logging.getLogger("authserver").addHandler(handler)
    try:
        resp = client.post(
            "/oauth/token",
            data={"grant_type": "password", "username": "alice", "password": "correct horse battery"},
            headers=reg.basic,
        )
    finally:
        logging.getLogger("authserver").removeHandler(handler)
    assert resp.status_code == 200, resp.data
    assert app.extensions["authserver.tracing"].provider.force_flush(10_000)
    assert set(receiver.paths) == {"/v1/traces"}
    names = [span.name for span in receiver.spans]
    server_span = next(span for span in receiver.spans if span.name == "POST /oauth/token")
    trace_id = server_span.trace_id
    ours = [span for span in receiver.spans if span.trace_id == trace_id]
    assert {"argon2.verify", "jwt.sign"} <= {span.name for span in ours}, names
    statements = [span for span in ours if span.name.startswith("db ")]
    assert statements, names
    attributes = {kv.key: kv.value.string_value for kv in statements[0].attributes}
    assert attributes["db.system"] in ("sqlite", "postgresql") and attributes["db.statement"]
    assert "correct horse battery" not in str(receiver.spans), "no values in the statements"
    lines = [json.loads(JsonFormatter().format(r)) for r in records]
    succeeded = next(line for line in lines if line.get("event") == "login.succeeded")
    assert succeeded["trace_id"] == trace_id.hex()
    assert succeeded["request_id"] == resp.headers["X-Request-Id"]


def test_without_an_endpoint_nothing_of_opentelemetry_is_imported(database, keys_dir):
    script = f"""
import sys
from authserver import create_app
from authserver.testing.apps import app_config
app = create_app(app_config({database.url!r}, __import__("pathlib").Path({str(keys_dir)!r})))
client = app.test_client()
assert client.get("/.well-known/jwks.json").status_code == 200
client.post("/oauth/token", data={{"grant_type": "password", "username": "x", "password": "y"}})
loaded = sorted(m for m in sys.modules if m.startswith("opentelemetry"))
print("LOADED", loaded)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "LOADED []" in done.stdout, done.stdout
