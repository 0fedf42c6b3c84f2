"""The fault scenarios' CI form: ``bench/faults/run --ci`` (docs/faults.md) on the scenarios that guard the
data: kill -9 of workers and of the whole server, PostgreSQL restarts (fast and immediate), and a failover
to a synchronous standby promoted by the harness, each under the mixed load and audited.

The harness starts its own PostgreSQL clusters and servers on free loopback ports (never the shared
5432/6379). It fails when any scenario lost a token, double-minted, detected reuse falsely, failed a valid
verification, answered a wrong 4xx, failed outside a fault or missed a theft. About 2 minutes on 2 cores.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.faults.postgres import BIN

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = "kill,pg-restart,failover"

pytestmark = [pytest.mark.slow, pytest.mark.faults]


def test_faults_lose_no_token_double_mint_nothing_and_detect_no_false_reuse(tmp_path):
    if not (BIN / "initdb").exists():
        pytest.fail(f"PostgreSQL server binaries are missing in {BIN} (apt-get install postgresql-15)")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.fail("runuser is needed to run PostgreSQL as the postgres user")
    report = tmp_path / "faults.md"
    result = subprocess.run(
        [sys.executable, "-m", "bench.faults", "--ci", "--scenarios", SCENARIOS, "--output", str(report)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    table = report.read_text() if report.exists() else result.stdout
    assert result.returncode == 0, table + result.stderr[-3000:]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "pass" in line.split("|")[-2]]
    assert len(rows) == len(SCENARIOS.split(",")), table
