"""The harness's own PostgreSQL clusters: initdb/pg_ctl on free loopback ports, run as the postgres user.

Never the shared server on 5432: every cluster here is made by :func:`Cluster.create` in the run's own
directory, on a port nobody listens on, and removed by :meth:`Cluster.destroy`. The machine runs as root,
and PostgreSQL refuses to run as root, so every command runs through ``runuser -u postgres`` and the
data directories belong to postgres.

A standby (:meth:`Cluster.standby_of`) is a ``pg_basebackup -R`` of a primary, streaming from it through
a physical replication slot; with ``synchronous`` the primary waits for the standby's flush before it
answers a commit (``synchronous_standby_names``), so nothing a client saw committed is lost at failover.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import time
from pathlib import Path

import psycopg

from authserver.testing.ports import free_port

BIN = Path(os.environ.get("FAULTS_PG_BIN", "/usr/lib/postgresql/15/bin"))
USER = "postgres"


def _as_postgres() -> list[str]:
    return ["runuser", "-u", USER, "--"] if os.geteuid() == 0 else []


def _run(*argv: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([*_as_postgres(), *argv], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr[-1500:]}")
    return result


def _own(path: Path) -> None:
    if os.geteuid() == 0:
        entry = pwd.getpwnam(USER)
        os.chown(path, entry.pw_uid, entry.pw_gid)


class Cluster:
    """One PostgreSQL cluster: a data directory, a port, a log file."""

    def __init__(self, name: str, root: Path, port: int) -> None:
        self.name, self.root, self.port = name, root, port
        self.data = root / "data"
        self.logfile = root / "postgres.log"

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    # -- making clusters -------------------------------------------------------------------------------

    @classmethod
    def _prepare(cls, name: str, parent: Path) -> Cluster:
        root = parent / name
        root.mkdir(parents=True)
        _own(root)
        return cls(name, root, free_port())

    @classmethod
    def create(cls, name: str, parent: Path, *, replication: bool = False) -> Cluster:
        """A new primary cluster (not started)."""
        cluster = cls._prepare(name, parent)
        _run(str(BIN / "initdb"), "-D", str(cluster.data), "-U", USER, "--auth=trust", "-E", "UTF8", "--no-sync")
        settings = [
            "listen_addresses = '127.0.0.1'",
            f"port = {cluster.port}",
            "unix_socket_directories = ''",
            "max_connections = 100",
            "shared_buffers = 32MB",
            "fsync = on",  # a kill -9 / immediate stop must not lose what was acknowledged
            "wal_level = replica",
            "max_wal_senders = 5",
            "max_replication_slots = 5",
            "hot_standby = on",
        ]
        with (cluster.data / "postgresql.auto.conf").open("a") as conf:
            conf.write("\n".join(settings) + "\n")
        if replication:
            with (cluster.data / "pg_hba.conf").open("a") as hba:
                hba.write("host replication postgres 127.0.0.1/32 trust\n")
        return cluster

    @classmethod
    def standby_of(cls, primary: Cluster, name: str, parent: Path, *, slot: str) -> Cluster:
        """A streaming standby of the running ``primary`` (``pg_basebackup -R`` through slot ``slot``)."""
        cluster = cls._prepare(name, parent)
        _run(
            str(BIN / "pg_basebackup"),
            "-h",
            primary.host,
            "-p",
            str(primary.port),
            "-U",
            USER,
            "-D",
            str(cluster.data),
            "-R",
            "-X",
            "stream",
            "-C",
            "-S",
            slot,
            "--no-sync",
        )
        with (cluster.data / "postgresql.auto.conf").open("a") as conf:
            # The copy carries the primary's settings; the standby has its own port and name.
            conf.write(f"port = {cluster.port}\ncluster_name = '{name}'\n")
            conf.write(
                f"primary_conninfo = 'host={primary.host} port={primary.port} user={USER} application_name={name}'\n"
            )
            conf.write(f"primary_slot_name = '{slot}'\n")
            # Promoted with no standby of its own, it must not wait for one: every commit would hang.
            conf.write("synchronous_standby_names = ''\n")
        return cluster

    # -- running -------------------------------------------------------------------------------------

    def start(self, timeout: float = 60) -> None:
        _run(str(BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.logfile), "-w", "-t", str(int(timeout)), "start")

    def stop(self, mode: str = "fast", timeout: float = 60) -> None:
        """``pg_ctl stop -m mode`` (smart, fast, immediate)."""
        _run(str(BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", str(int(timeout)), "stop", check=False)

    def restart(self, mode: str) -> None:
        self.stop(mode)
        self.start()

    def postmaster_pid(self) -> int | None:
        pidfile = self.data / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError, IndexError):
            return int(pidfile.read_text().splitlines()[0])
        return None

    def kill9(self) -> None:
        """SIGKILL the postmaster (the host is gone); its backends then exit on their own (postmaster death)."""
        pid = self.postmaster_pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with psycopg.connect(self.url(), connect_timeout=1):
                    pass
            except psycopg.OperationalError:
                return
            time.sleep(0.1)

    def promote(self) -> None:
        """``pg_ctl promote``: the standby becomes a primary (waits until it accepts writes)."""
        _run(str(BIN / "pg_ctl"), "-D", str(self.data), "-w", "promote")

    def running(self) -> bool:
        return _run(str(BIN / "pg_ctl"), "-D", str(self.data), "status", check=False).returncode == 0

    def sql(self, statement: str, database: str = "postgres") -> list[tuple]:
        with psycopg.connect(self.url(database), autocommit=True, connect_timeout=5) as conn:
            cursor = conn.execute(statement)  # harness statements only, never input
            return cursor.fetchall() if cursor.description else []

    def destroy(self) -> None:
        """Stop (immediate) and remove the cluster's directory."""
        if self.data.exists():
            self.stop("immediate", timeout=30)
            pid = self.postmaster_pid()
            if pid is not None:  # pg_ctl failed (e.g. the postmaster was killed and a backend lingers)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)


def wait_replaying(primary: Cluster, standby_name: str, timeout: float = 30) -> None:
    """Until the primary lists ``standby_name`` as a streaming, synchronous standby."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = primary.sql(
            f"SELECT state, sync_state FROM pg_stat_replication WHERE application_name = '{standby_name}'"  # noqa: S608
        )
        if rows and rows[0][0] == "streaming" and rows[0][1] in ("sync", "quorum"):
            return
        time.sleep(0.2)
    raise RuntimeError(f"standby {standby_name} is not streaming synchronously after {timeout} s")
