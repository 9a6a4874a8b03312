"""The agent's durable state in SQLite: per kind of job (appendix-B audits, simple audits,
serving rounds, retrieval requests) the last processed block and the jobs it took, plus the data
it got or made off chain (MC's deliveries and test sets, served round inputs, committed datasets,
signed results), the proofs already made (the first one of an index is kept) and each job's
proving progress, so a restart (even after SIGKILL) resumes exactly: everything else is re-read
from the chain.

Schema version 1 (``PRAGMA user_version``) keys cursors, jobs and proofs by ``kind``. A file
written by the first agent (version 0: one audit cursor, audit jobs and proofs) is migrated in
place, in one transaction, when it is opened: its rows become the ``audit`` kind."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import threading
from pathlib import Path

from .. import prover as zp
from ..participants.delivery import Delivery

AUDIT, ROUND, REQUEST, SIMPLE_AUDIT = "audit", "round", "request", "simple-audit"
AGGREGATED_AUDIT = "audit-aggregated"  # appendix-B proofs made for aggregation (another transcript)
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cursors (kind TEXT PRIMARY KEY, last_block INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (kind TEXT NOT NULL, job_id INTEGER NOT NULL, model_id INTEGER NOT NULL,
                                 done INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (kind, job_id));
CREATE TABLE IF NOT EXISTS deliveries (transfer_id INTEGER PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS proofs (kind TEXT NOT NULL, job_id INTEGER NOT NULL, idx INTEGER NOT NULL,
                                   body TEXT NOT NULL, PRIMARY KEY (kind, job_id, idx));
CREATE TABLE IF NOT EXISTS served_rounds (round_id INTEGER PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS datasets (dataset_id INTEGER PRIMARY KEY, root TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS request_results (request_id INTEGER PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit_test_sets (audit_id INTEGER PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS progress (kind TEXT NOT NULL, job_id INTEGER NOT NULL, body TEXT NOT NULL,
                                     PRIMARY KEY (kind, job_id));
"""

# Version 0 -> 1: the audit-only tables become the "audit" rows of the kind-keyed ones.
_MIGRATE_0_TO_1 = """
CREATE TABLE cursors (kind TEXT PRIMARY KEY, last_block INTEGER NOT NULL);
INSERT INTO cursors (kind, last_block) SELECT 'audit', last_block FROM cursor WHERE id = 0;
DROP TABLE cursor;
CREATE TABLE jobs_v1 (kind TEXT NOT NULL, job_id INTEGER NOT NULL, model_id INTEGER NOT NULL,
                      done INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (kind, job_id));
INSERT INTO jobs_v1 (kind, job_id, model_id, done) SELECT 'audit', audit_id, model_id, done FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_v1 RENAME TO jobs;
CREATE TABLE proofs_v1 (kind TEXT NOT NULL, job_id INTEGER NOT NULL, idx INTEGER NOT NULL,
                        body TEXT NOT NULL, PRIMARY KEY (kind, job_id, idx));
INSERT INTO proofs_v1 (kind, job_id, idx, body) SELECT 'audit', audit_id, idx, body FROM proofs;
DROP TABLE proofs;
ALTER TABLE proofs_v1 RENAME TO proofs;
"""


class AgentState:
    def __init__(self, path: str | Path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = str(path)
        self._local = threading.local()
        self._migrate()

    @property
    def db(self) -> sqlite3.Connection:
        """This thread's connection: the HTTP threads store deliveries and served rounds while
        the loop may be inside a transaction, so each thread has its own and sqlite serializes
        the writers (also across processes: `provider commit-dataset` writes here too)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")  # a committed row survives a crash
            self._local.conn = conn
        return conn

    def _migrate(self) -> None:
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")  # one process migrates; the others then see version 1
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise RuntimeError(f"agent state schema version {version} is newer than this agent's "
                                   f"({SCHEMA_VERSION}); upgrade zkmarket")
            tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if version == 0 and "cursor" in tables:
                for statement in _MIGRATE_0_TO_1.split(";"):
                    if statement.strip():
                        self.db.execute(statement)
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self.db.execute(statement)
            self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # ------------------------------------------------------------ cursors and jobs

    def last_block(self, kind: str = AUDIT) -> int | None:
        row = self.db.execute("SELECT last_block FROM cursors WHERE kind = ?", (kind,)).fetchone()
        return row[0] if row else None

    def record_scan(self, last_block: int, new_jobs: list[tuple[int, int]], kind: str = AUDIT) -> None:
        """New jobs (id, model id) and the block they were found up to, in one transaction."""
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT OR IGNORE INTO jobs (kind, job_id, model_id) VALUES (?, ?, ?)",
                                [(kind, job_id, model_id) for job_id, model_id in new_jobs])
            self.db.execute("INSERT INTO cursors (kind, last_block) VALUES (?, ?) "
                            "ON CONFLICT(kind) DO UPDATE SET last_block = excluded.last_block", (kind, last_block))

    def open_jobs(self, kind: str = AUDIT) -> list[tuple[int, int]]:
        return self.db.execute("SELECT job_id, model_id FROM jobs WHERE kind = ? AND done = 0 ORDER BY job_id",
                               (kind,)).fetchall()

    def finish_job(self, job_id: int, kind: str = AUDIT) -> None:
        self.db.execute("UPDATE jobs SET done = 1 WHERE kind = ? AND job_id = ?", (kind, job_id))

    # ------------------------------------------------------------ audits: deliveries

    def save_delivery(self, delivery: Delivery) -> None:
        self.db.execute("INSERT OR REPLACE INTO deliveries (transfer_id, body) VALUES (?, ?)",
                        (delivery.transfer_id, delivery.to_json()))

    def delivery(self, transfer_id: int) -> Delivery | None:
        row = self.db.execute("SELECT body FROM deliveries WHERE transfer_id = ?", (transfer_id,)).fetchone()
        return Delivery.from_json(row[0]) if row else None

    # ------------------------------------------------------------ proofs (every kind)

    def save_proof(self, job_id: int, index: int, proof: zp.Proof, kind: str = AUDIT) -> bool:
        """Stores the first proof of (kind, job, index); a duplicate (a retried or repeated task)
        is ignored, so what was submitted stays what is stored. True if it was stored."""
        cur = self.db.execute("INSERT OR IGNORE INTO proofs (kind, job_id, idx, body) VALUES (?, ?, ?, ?)",
                              (kind, job_id, index, json.dumps(dataclasses.asdict(proof))))
        return cur.rowcount == 1

    def proof(self, job_id: int, index: int, kind: str = AUDIT) -> zp.Proof | None:
        row = self.db.execute("SELECT body FROM proofs WHERE kind = ? AND job_id = ? AND idx = ?",
                              (kind, job_id, index)).fetchone()
        return None if row is None else zp.Proof(**json.loads(row[0]))

    def proof_count(self, job_id: int, kind: str = AUDIT) -> int:
        return self.db.execute("SELECT COUNT(*) FROM proofs WHERE kind = ? AND job_id = ?",
                               (kind, job_id)).fetchone()[0]

    def proofs(self, job_id: int, kind: str = AUDIT) -> dict[int, zp.Proof]:
        rows = self.db.execute("SELECT idx, body FROM proofs WHERE kind = ? AND job_id = ?", (kind, job_id)).fetchall()
        return {idx: zp.Proof(**json.loads(body)) for idx, body in rows}

    # ------------------------------------------------------------ proving progress (every kind)

    def save_progress(self, job_id: int, body: dict, kind: str = AUDIT) -> None:
        """The job's latest proving progress (JSON object), for `zkmarket provider status`."""
        self.db.execute("INSERT OR REPLACE INTO progress (kind, job_id, body) VALUES (?, ?, ?)",
                        (kind, job_id, json.dumps(body)))

    def progress(self) -> list[tuple[str, int, dict]]:
        rows = self.db.execute("SELECT kind, job_id, body FROM progress ORDER BY kind, job_id").fetchall()
        return [(kind, job_id, json.loads(body)) for kind, job_id, body in rows]

    # ------------------------------------------------------------ serving rounds

    def save_served_round(self, round_id: int, body: dict) -> None:
        """MC's inputs and what was served for them (JSON object), kept to answer contests."""
        self.db.execute("INSERT OR REPLACE INTO served_rounds (round_id, body) VALUES (?, ?)",
                        (round_id, json.dumps(body)))

    def served_round(self, round_id: int) -> dict | None:
        row = self.db.execute("SELECT body FROM served_rounds WHERE round_id = ?", (round_id,)).fetchone()
        return json.loads(row[0]) if row else None

    # ------------------------------------------------------------ retrieval

    def save_dataset(self, dataset_id: int, root: bytes, documents: list[bytes]) -> None:
        self.db.execute("INSERT OR REPLACE INTO datasets (dataset_id, root, body) VALUES (?, ?, ?)",
                        (dataset_id, root.hex(), json.dumps([d.hex() for d in documents])))

    def dataset(self, dataset_id: int) -> list[bytes] | None:
        row = self.db.execute("SELECT body FROM datasets WHERE dataset_id = ?", (dataset_id,)).fetchone()
        return [bytes.fromhex(d) for d in json.loads(row[0])] if row else None

    def datasets(self) -> dict[int, bytes]:
        """Dataset id -> committed root, of every dataset whose documents are stored here."""
        return {i: bytes.fromhex(r) for i, r in self.db.execute("SELECT dataset_id, root FROM datasets")}

    def save_results(self, request_id: int, body: dict) -> None:
        self.db.execute("INSERT OR REPLACE INTO request_results (request_id, body) VALUES (?, ?)",
                        (request_id, json.dumps(body)))

    def results(self, request_id: int) -> dict | None:
        row = self.db.execute("SELECT body FROM request_results WHERE request_id = ?", (request_id,)).fetchone()
        return json.loads(row[0]) if row else None

    # ------------------------------------------------------------ simple audits

    def save_test_set(self, audit_id: int, items: list[bytes], labels: list[int]) -> None:
        """MC's test set of a simple audit, once it matched the committed root."""
        self.db.execute("INSERT OR REPLACE INTO audit_test_sets (audit_id, body) VALUES (?, ?)",
                        (audit_id, json.dumps({"items": [x.hex() for x in items], "labels": list(labels)})))

    def test_set(self, audit_id: int) -> tuple[list[bytes], list[int]] | None:
        row = self.db.execute("SELECT body FROM audit_test_sets WHERE audit_id = ?", (audit_id,)).fetchone()
        if row is None:
            return None
        body = json.loads(row[0])
        return [bytes.fromhex(x) for x in body["items"]], [int(y) for y in body["labels"]]
