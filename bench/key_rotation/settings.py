"""What one run uses: the server's short timings, the key lifecycle policy they make, the options."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from authserver.keys.lifecycle import Policy
from authserver.keys.lifecycle import revoke_propagation_bound
from authserver.settings import Settings
from authserver.testing.databases import PG_ADMIN_URL

HERE = Path(__file__).resolve().parent
AUDIENCE = "https://api.rotation.test"
#: Short timings; the publish delay, revoke bound and retire keep follow from POLICY (authserver.keys.lifecycle).
TIMINGS = {
    "JWKS_MAX_AGE": 3,
    "KEYS_RELOAD_INTERVAL": 1,
    "ACCESS_TOKEN_TTL": 5,
    "ACCESS_TOKEN_MAX_TTL": 5,
    "KEY_ROTATION_PERIOD": 0,
}
#: The lifecycle the server and its CLI apply with these timings (the deployment runs in development).
POLICY: Policy = Policy.from_settings(Settings.load({**TIMINGS, "ENV": "development"}, environ={}).keys)
REVOKE_BOUND = revoke_propagation_bound(POLICY)
LATE_MARGIN = 2.0  # the second check of each token runs this long before its exp
PROBE_TOLERANCE = 300  # clock tolerance of revoke probes: only the key may make them fail, never exp
#: Measurement slack on the revoke bound: the probe interval plus a response's time on the wire.
PROPAGATION_SLACK = 0.35


@dataclass
class Options:
    database_url: str | None = None  # None: create a fresh database on pg_admin_url, drop it after
    pg_admin_url: str = PG_ADMIN_URL
    duration: float = 0.0  # minimum seconds of rotation-phase load (prunes happen once due within it)
    rotations: int = 3
    mode: str = "manual"  # manual: keys generate/activate/prune; rotate: keys rotate steps
    activate_at: str = "eligible"  # eligible: first moment the CLI accepts; after-delay: delay after generate
    workers: int = 3
    rate: float = 40.0  # tokens per second, all issuer threads together
    issuers: int = 2
    dwell: float = 0.5  # seconds between an activation and the next generate
    probe_interval: float = 0.1
    keep_workdir: bool = False
    verbose: bool = True
