"""Prometheus metrics, on the management listener only: event counters, the catalogue, the key gauges."""


def _samples(management) -> dict[str, float]:
    text = management.get("/metrics").get_data(as_text=True)
    return {k: float(v) for k, v in (line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#"))}


def test_the_public_listener_serves_no_metrics(client):
    resp = client.get("/metrics")
    assert resp.status_code == 404
    assert resp.json["error"] == "not_found"


def test_metrics_expose_event_counters_and_key_gauges(management, make_user, make_client, oauth):
    make_user()
    reg = make_client()
    before = _samples(management)
    oauth.password(reg, password="wrong password here")
    samples = _samples(management)
    assert samples["authserver_login_failed_total"] == before.get("authserver_login_failed_total", 0) + 1
    assert samples["authserver_login_failures_total"] == before.get("authserver_login_failures_total", 0) + 1
    assert samples["authserver_active_key_age_seconds"] >= 0
    assert samples["authserver_signing_key_age_seconds"] == samples["authserver_active_key_age_seconds"]
    assert samples["authserver_next_key_step_in_seconds"] > 0
    assert samples["authserver_ready"] == 1
