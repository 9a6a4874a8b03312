"""The agent's durable state in SQLite: the last processed block, the jobs it took, the data MC
delivered off chain and the proofs already made, so a restart (even after SIGKILL) resumes
exactly: everything else is re-read from the chain."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path

from .. import prover as zp
from ..participants.delivery import Delivery

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cursor (id INTEGER PRIMARY KEY CHECK (id = 0), last_block INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (audit_id INTEGER PRIMARY KEY, model_id INTEGER NOT NULL, done INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS deliveries (transfer_id INTEGER PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS proofs (audit_id INTEGER NOT NULL, idx INTEGER NOT NULL, body TEXT NOT NULL,
                                   PRIMARY KEY (audit_id, idx));
"""


class AgentState:
    def __init__(self, path: str | Path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        # check_same_thread off: the HTTP thread stores deliveries; sqlite serializes writers.
        self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")  # a committed row survives a crash
        self.db.executescript(_SCHEMA)

    def last_block(self) -> int | None:
        row = self.db.execute("SELECT last_block FROM cursor WHERE id = 0").fetchone()
        return row[0] if row else None

    def record_scan(self, last_block: int, new_jobs: list[tuple[int, int]]) -> None:
        """New jobs and the block they were found up to, in one transaction."""
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT OR IGNORE INTO jobs (audit_id, model_id) VALUES (?, ?)", new_jobs)
            self.db.execute("INSERT INTO cursor (id, last_block) VALUES (0, ?) "
                            "ON CONFLICT(id) DO UPDATE SET last_block = excluded.last_block", (last_block,))

    def open_jobs(self) -> list[tuple[int, int]]:
        return self.db.execute("SELECT audit_id, model_id FROM jobs WHERE done = 0 ORDER BY audit_id").fetchall()

    def finish_job(self, audit_id: int) -> None:
        self.db.execute("UPDATE jobs SET done = 1 WHERE audit_id = ?", (audit_id,))

    def save_delivery(self, delivery: Delivery) -> None:
        self.db.execute("INSERT OR REPLACE INTO deliveries (transfer_id, body) VALUES (?, ?)",
                        (delivery.transfer_id, delivery.to_json()))

    def delivery(self, transfer_id: int) -> Delivery | None:
        row = self.db.execute("SELECT body FROM deliveries WHERE transfer_id = ?", (transfer_id,)).fetchone()
        return Delivery.from_json(row[0]) if row else None

    def save_proof(self, audit_id: int, index: int, proof: zp.Proof) -> None:
        self.db.execute("INSERT OR REPLACE INTO proofs (audit_id, idx, body) VALUES (?, ?, ?)",
                        (audit_id, index, json.dumps(dataclasses.asdict(proof))))

    def proofs(self, audit_id: int) -> dict[int, zp.Proof]:
        rows = self.db.execute("SELECT idx, body FROM proofs WHERE audit_id = ?", (audit_id,)).fetchall()
        return {idx: zp.Proof(**json.loads(body)) for idx, body in rows}
