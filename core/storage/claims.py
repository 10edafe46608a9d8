"""Claims on cells: the database decides who computes what, with leases and heartbeats.

A worker claims a cell before computing it. The claim holds a lease that the worker's
heartbeat keeps extending (``heartbeat``); a worker that dies stops extending it, and
once the lease has expired another worker may take the cell over (the takeover is
recorded as a ``lost`` event of the dead worker, then a ``claimed`` one). Two runs on
one spec and database therefore cooperate: neither computes a cell the other holds,
and every cell's result is written once. (Optuna's RDB storage treats dead workers
the same way, with heartbeats and a grace period.)

Functions take the ``Session`` of ``Storage.transaction`` like ``repository``'s; a
claim locks the cell's row (``SELECT ... FOR UPDATE`` on PostgreSQL, the write lock of
``BEGIN IMMEDIATE`` on SQLite), so two workers never both win it.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Literal

from sqlalchemy import update

from recsec.storage.models import Cell, CellEvent, utcnow
from recsec.storage.repository import CellIdentity, _upsert_cell

if TYPE_CHECKING:  # pragma: no cover
    from sqlalchemy.orm import Session

    from recsec.storage.db import Storage

#: How long a claim lasts without a heartbeat (seconds); heartbeats come three times per lease.
DEFAULT_LEASE_S = 90.0

Claimed = Literal["claimed", "cached", "busy"]


def new_worker_id() -> str:
    """A name for this process's claims: host, pid and a random suffix (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _aware(t: datetime | None) -> datetime | None:
    """SQLite hands timestamps back without a zone; they were written in UTC."""
    return t if t is None or t.tzinfo is not None else t.replace(tzinfo=timezone.utc)


def claim(session: "Session", ident: CellIdentity, *, worker: str, lease_s: float = DEFAULT_LEASE_S,
          force: bool = False, run_id: int | None = None) -> Claimed:
    """Claim the cell ``ident`` for ``worker``.

    Returns ``cached`` when it is finished (done or skipped; with ``force`` it is claimed
    anyway and its result stays until a new one replaces it), ``busy`` when another worker
    holds a live lease, else ``claimed``. An expired lease of another worker is taken over.
    """
    cell = _upsert_cell(session, ident, run_id)
    now = utcnow()
    if cell.status in ("done", "skipped") and not force:
        return "cached"
    holder, expires = cell.worker, _aware(cell.lease_expires_at)
    if holder and holder != worker:  # also a finished cell another worker is recomputing (--force)
        if expires is not None and expires > now:
            return "busy"
        session.add(CellEvent(cell_id=cell.id, run_id=run_id, worker=holder, event="lost",
                              detail=f"lease expired at {expires.isoformat() if expires else 'never set'}; taken over by {worker}"))
    if cell.status != "done":
        cell.status = "running"
    cell.worker = worker
    cell.lease_expires_at = now + timedelta(seconds=lease_s)
    session.add(CellEvent(cell_id=cell.id, run_id=run_id, worker=worker, event="claimed"))
    session.flush()
    return "claimed"


def release(session: "Session", config_hash: str, worker: str) -> None:
    """Drop ``worker``'s claim on the cell (after its outcome is stored)."""
    session.execute(update(Cell).where(Cell.config_hash == config_hash, Cell.worker == worker)
                    .values(worker=None, lease_expires_at=None))


def heartbeat(session: "Session", worker: str, lease_s: float = DEFAULT_LEASE_S) -> int:
    """Extend every lease ``worker`` holds; returns how many cells it holds."""
    result = session.execute(update(Cell).where(Cell.worker == worker)
                             .values(lease_expires_at=utcnow() + timedelta(seconds=lease_s)))
    return int(result.rowcount or 0)


class Heartbeat:
    """A daemon thread extending ``worker``'s leases every third of a lease while it runs."""

    def __init__(self, storage: "Storage", worker: str, lease_s: float = DEFAULT_LEASE_S) -> None:
        self.storage, self.worker, self.lease_s = storage, worker, lease_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"recsec-heartbeat-{worker}", daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(self.lease_s / 3):
            try:
                with self.storage.transaction() as s:
                    heartbeat(s, self.worker, self.lease_s)
            except Exception:  # noqa: BLE001 - a missed beat only shortens the lease; the next one retries
                pass

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
