"""``/metrics`` on the management listener counts every worker of the public listener: the requests two
workers served add up to what was sent, each worker having served some."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
import requests
from prometheus_client.multiprocess import MultiProcessCollector

from authserver.testing.servers import start_server

pytestmark = pytest.mark.live

JWKS = '{route="/.well-known/jwks.json",status="200"}'


def _multiproc_dir(pid: int) -> Path:
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    value = next(e for e in environ if e.startswith(b"PROMETHEUS_MULTIPROC_DIR="))
    return Path(value.split(b"=", 1)[1].decode())


def _served_by(directory: Path, pid: int) -> float:
    """The JWKS requests worker ``pid`` counted, from its own metrics file."""
    files = [str(p) for p in directory.glob(f"histogram_{pid}.db")]
    for metric in MultiProcessCollector.merge(files, accumulate=True) if files else []:
        for sample in metric.samples:
            if sample.name.endswith("_count") and sample.labels.get("route") == "/.well-known/jwks.json":
                return sample.value
    return 0


def _scraped(management_url: str) -> float:
    text = requests.get(f"{management_url}/metrics", timeout=10).text
    match = re.search(r"^authserver_http_request_duration_seconds_count" + re.escape(JWKS) + r" (\S+)$", text, re.M)
    return float(match[1]) if match else 0


def test_metrics_are_summed_across_the_workers(database, keys_dir):
    server = start_server(database, keys_dir, workers=2)
    try:
        workers = server.worker_pids()
        assert len(workers) == 2
        directory = _multiproc_dir(workers[0])
        sent = 0
        lock = threading.Lock()

        def hit(count: int) -> None:
            nonlocal sent
            for _ in range(count):
                resp = requests.get(f"{server.url}/.well-known/jwks.json", headers={"Connection": "close"}, timeout=10)
                assert resp.status_code == 200
                with lock:
                    sent += 1

        for _ in range(10):  # new connections from parallel clients until both workers have served some
            threads = [threading.Thread(target=hit, args=(10,)) for _ in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            if all(_served_by(directory, pid) > 0 for pid in workers):
                break
        per_worker = [_served_by(directory, pid) for pid in workers]
        assert all(n > 0 for n in per_worker), per_worker
        assert sum(per_worker) == sent
        assert _scraped(server.management_url) == sent, "the scrape is the sum of the workers, not one"
    finally:
        server.stop()
