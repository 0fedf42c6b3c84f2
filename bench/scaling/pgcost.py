"""What a window of requests cost one database of a shared PostgreSQL cluster, from counts that do not drift.

* **WAL**: ``pg_waldump`` over the LSN range of the window, keeping the records of our database only (a
  block of one of its relations, or a record of a transaction that wrote one, i.e. its commit): other
  databases of the cluster (other engineers' tests) are left out. ``rec`` bytes are the records without
  full-page images (what a refresh writes in steady state), ``tot`` with them (the first change of a page
  after a checkpoint logs the whole 8 kB page, so it depends on where the checkpoint fell).
* **Rows**: the heap records among them, per table (INSERT, UPDATE, HOT_UPDATE, DELETE, LOCK) and the
  index entries (btree INSERT_LEAF), exact and immediate (no statistics collector delay).
* **Statements**: the lines the cluster's log gets with ``log_statement = all`` set on our database
  (``ALTER DATABASE ... SET``, for new sessions of that database only; the shared cluster is never
  reconfigured or restarted), including ``BEGIN``/``COMMIT``.
"""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

import psycopg

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
_RECORD = re.compile(
    r"rmgr: (?P<rmgr>\S+)\s+len \(rec/tot\):\s+(?P<rec>\d+)/\s*(?P<tot>\d+), tx:\s+(?P<tx>\d+), "
    r".*?desc: (?P<op>[A-Z_0-9]+)"
)
_REL = re.compile(r"rel \d+/(?P<db>\d+)/(?P<node>\d+)")
HEAP_OPS = {"INSERT": "inserted", "UPDATE": "updated", "HOT_UPDATE": "updated", "DELETE": "deleted", "LOCK": "locked"}


def admin(sql: str, params: tuple[str, ...] = ()) -> str:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        cursor = conn.execute(sql, params)  # type: ignore[arg-type]  # sql is ours, never input
        row = cursor.fetchone() if cursor.description else None
        return "" if row is None else str(row[0])


def wal_insert_lsn() -> str:
    return admin("SELECT pg_current_wal_insert_lsn()")


def wal_flush_lsn() -> str:
    return admin("SELECT pg_current_wal_flush_lsn()")


@dataclass
class WalCost:
    records: int = 0
    rec_bytes: int = 0
    tot_bytes: int = 0
    full_pages: int = 0
    commits: int = 0
    rows: Counter[tuple[str, str]] = field(default_factory=Counter)  # (table, inserted|updated|...) -> n
    index_entries: Counter[str] = field(default_factory=Counter)  # index -> n
    cluster_bytes: int = 0  # the whole cluster's WAL in the window, neighbours included


class Database:
    """Our database in the shared cluster: its OID, its relations' names, pg_wal's place, the log's."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.oid = admin("SELECT oid FROM pg_database WHERE datname = %s", (name,))
        self.pg_wal = Path(admin("SHOW data_directory")) / "pg_wal"
        version = admin("SHOW server_version_num")[:2]
        self.log_path = Path(f"/var/log/postgresql/postgresql-{version}-main.log")
        self.waldump = f"/usr/lib/postgresql/{version}/bin/pg_waldump"
        self.relations: dict[str, str] = {}

    def load_relations(self) -> None:
        with psycopg.connect(ADMIN_URL.rsplit("/", 1)[0] + "/" + self.name, autocommit=True) as conn:
            rows = conn.execute("SELECT pg_relation_filenode(oid)::text, relname FROM pg_class").fetchall()
        self.relations = {node: name for node, name in rows if node is not None}

    def wal(self, start: str, end: str) -> WalCost:
        cost = WalCost(cluster_bytes=int(admin("SELECT pg_wal_lsn_diff(%s, %s)", (end, start))))
        done = subprocess.run(
            [self.waldump, "-p", str(self.pg_wal), "-s", start, "-e", end],
            capture_output=True,
            text=True,
            timeout=120,
        )
        parsed = [(m, _REL.findall(line), line) for line in done.stdout.splitlines() if (m := _RECORD.search(line))]
        ours = {m["tx"] for m, rels, _ in parsed if m["tx"] != "0" and any(db == self.oid for db, _ in rels)}
        for m, rels, line in parsed:
            if not (any(db == self.oid for db, _ in rels) or (m["tx"] != "0" and m["tx"] in ours)):
                continue
            cost.records += 1
            cost.rec_bytes += int(m["rec"])
            cost.tot_bytes += int(m["tot"])
            cost.full_pages += line.count(" FPW")
            relation = self.relations.get(rels[0][1], rels[0][1]) if rels else ""
            if m["rmgr"] == "Transaction" and m["op"] == "COMMIT":
                cost.commits += 1
            elif m["rmgr"] == "Heap" and m["op"] in HEAP_OPS:
                cost.rows[(relation, HEAP_OPS[m["op"]])] += 1
            elif m["rmgr"] == "Btree" and m["op"].startswith("INSERT"):
                cost.index_entries[relation] += 1
        return cost

    # ---------------------------------------------------------------- statements, through the log

    def log_statements(self, on: bool) -> None:
        value = "SET log_statement = 'all'" if on else "RESET log_statement"
        admin(f'ALTER DATABASE "{self.name}" {value}')

    def log_offset(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return -1

    def statements_since(self, offset: int) -> Counter[str] | None:
        """Statements of our database logged since ``offset``, by their first keyword."""
        if offset < 0:
            return None
        with open(self.log_path, "rb") as log:
            log.seek(offset)
            text = log.read().decode("utf-8", "replace")
        marker = re.compile(rf"@{re.escape(self.name)} LOG:  (?:statement|execute [^:]*):\s*([A-Za-z]+|\S)")
        return Counter(m.group(1).upper() for m in marker.finditer(text))
