"""Prometheus metrics: off by default; when on, event counters and the key-lifecycle gauges."""

import pytest


def test_metrics_are_off_by_default(client):
    resp = client.get("/metrics")
    assert resp.status_code == 404
    assert resp.json["error"] == "not_found"


class TestMetricsOn:
    @pytest.fixture
    def config_overrides(self):
        return {"METRICS": 1}

    def test_metrics_expose_event_counters_and_key_gauges(self, client, make_user, make_client, oauth):
        make_user()
        reg = make_client()
        oauth.password(reg, password="wrong password here")
        text = client.get("/metrics").get_data(as_text=True)
        lines = dict(line.split(" ", 1) for line in text.splitlines() if not line.startswith("#"))
        assert int(lines["authserver_login_failed_total"]) >= 1
        assert int(lines["authserver_active_key_age_seconds"]) >= 0
        assert int(lines["authserver_next_key_step_in_seconds"]) > 0
