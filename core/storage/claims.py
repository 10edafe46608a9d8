"""Claims on cells: the database decides who computes what, with leases and heartbeats.

A worker claims a cell before computing it. The claim holds a lease that the worker's
heartbeat keeps extending (``heartbeat``); a worker that dies stops extending it, and
once the lease has expired another worker may take the cell over (the takeover is
recorded as a ``lost`` event of the dead worker, then a ``claimed`` one). Two runs on
one spec and database therefore cooperate: neither computes a cell the other holds,
and every cell's result is written once. (Optuna's RDB storage treats dead workers
the same way, with heartbeats and a grace period.)

A process that dies while computing a cell (the OOM killer, a segfault, ``os._exit`` in a
plugin) is counted on the cell (``deaths``): by the supervisor that saw it exit, with its
exit status (``record_death``), or by the next claim that finds its lease expired or its
process gone. At ``MAX_DEATHS`` the cell is stored failed ("the process died: ...") and is
not retried without ``--force``, so a resume goes on with the rest of the matrix instead of
dying on the same cell again. Runs have owners and heartbeats too: a run left ``running``
by a process that stopped beating is marked ``died`` (``mark_dead_runs``).

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

from sqlalchemy import select, update

from recsec.storage.models import Cell, CellEvent, Run, utcnow
from recsec.storage.repository import CellIdentity, _upsert_cell, save_failed

if TYPE_CHECKING:  # pragma: no cover
    from sqlalchemy.orm import Session

    from recsec.storage.db import Storage

#: How long a claim lasts without a heartbeat (seconds); heartbeats come three times per lease.
DEFAULT_LEASE_S = 90.0

#: A cell whose process died this many times is stored failed and not retried (``--force`` retries it).
MAX_DEATHS = 2

#: How a death reads when no supervisor saw the process exit (``record_death`` fills the status in).
UNOBSERVED = "no exit status was observed"

#: ``died``: the cell killed its process ``MAX_DEATHS`` times; it is stored failed, nothing to compute.
Claimed = Literal["claimed", "cached", "busy", "died"]


def new_worker_id() -> str:
    """A name for this process's claims: host, pid and a random suffix (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _aware(t: datetime | None) -> datetime | None:
    """SQLite hands timestamps back without a zone; they were written in UTC."""
    return t if t is None or t.tzinfo is not None else t.replace(tzinfo=timezone.utc)


def process_gone(worker: str) -> bool:
    """Whether the process behind ``worker`` (``host:pid:suffix``) is known to be gone: it ran on
    this host and its pid is free or a zombie. Elsewhere only its lease can tell."""
    host, _, rest = worker.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # another user's process: alive
        return False
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rpartition(")")[2].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return False


def died_out(cell: Cell) -> bool:
    """Whether ``cell`` is stored failed for killing its process ``MAX_DEATHS`` times (not retried without force)."""
    return cell.status == "failed" and (cell.deaths or 0) >= MAX_DEATHS


def _died(session: "Session", cell: Cell, cause: str, run_id: int | None, worker: str | None) -> bool:
    """Count one death of ``cell``'s process; at ``MAX_DEATHS`` store the cell failed. Returns
    whether it was stored failed."""
    cell.deaths = (cell.deaths or 0) + 1
    session.add(CellEvent(cell_id=cell.id, run_id=run_id, worker=worker, event="died", detail=cause))
    if cell.deaths < MAX_DEATHS:
        if cell.status == "running":
            cell.status = "pending"
        return False
    deaths = cell.deaths
    message = (f"the process died: {cause} (it died {deaths} times computing this cell; "
               "not retried without --force)")
    save_failed(session, cell, message, message, keep_result=cell.status == "done", run_id=run_id)
    cell.deaths = deaths  # an outcome stored by the process itself resets the count; this one does not
    session.add(CellEvent(cell_id=cell.id, run_id=run_id, worker=worker, event="failed", detail=message))
    return True


def record_death(session: "Session", worker_prefix: str, cause: str, run_id: int | None = None) -> list[tuple[Cell, bool]]:
    """A supervisor saw the process whose worker ids start with ``worker_prefix`` (``host:pid:``)
    die of ``cause`` ("signal 9 (SIGKILL)"): count a death on every cell it held and release
    them (no lease to wait out). Returns each such cell and whether it is now stored failed."""
    held = session.scalars(select(Cell).where(Cell.worker.startswith(worker_prefix, autoescape=True))
                           .with_for_update()).all()
    out = []
    for cell in held:
        worker, cell.worker, cell.lease_expires_at = cell.worker, None, None
        out.append((cell, _died(session, cell, cause, run_id, worker)))
    # A claim that took a cell over first (the process was already gone) counted the death
    # without its status: fill it in.
    unobserved = select(CellEvent).where(CellEvent.event == "died", CellEvent.detail.contains(UNOBSERVED),
                                         CellEvent.worker.startswith(worker_prefix, autoescape=True))
    for event in session.scalars(unobserved):
        cell, old = session.get(Cell, event.cell_id), event.detail
        event.detail = cause
        if cell is not None and cell.error and old in cell.error:
            cell.error, cell.traceback = cell.error.replace(old, cause), (cell.traceback or "").replace(old, cause)
    session.flush()
    return out


def record_death_of(session: "Session", ident: CellIdentity, cause: str, run_id: int | None = None) -> tuple[Cell, bool]:
    """``record_death`` for a cell its process was on without holding it (it died in ``skip()``)."""
    cell = _upsert_cell(session, ident, run_id)
    failed = _died(session, cell, cause, run_id, None)
    session.flush()
    return cell, failed


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
    if died_out(cell) and not force:
        return "died"
    holder, expires = cell.worker, _aware(cell.lease_expires_at)
    if holder and holder != worker:  # also a finished cell another worker is recomputing (--force)
        gone = process_gone(holder)
        if expires is not None and expires > now and not gone:
            return "busy"
        why = "its process is gone" if gone else f"lease expired at {expires.isoformat() if expires else 'never set'}"
        session.add(CellEvent(cell_id=cell.id, run_id=run_id, worker=holder, event="lost",
                              detail=f"{why}; taken over by {worker}"))
        # Nobody saw that process exit (a supervisor would have released the claim with its
        # exit status), so the cause is all the takeover knows.
        cause = f"{why} while it held the cell, without an outcome ({UNOBSERVED})"
        if _died(session, cell, cause, run_id, holder) and not force:
            cell.worker = cell.lease_expires_at = None
            session.flush()
            return "died"
    if cell.status != "done":
        cell.status = "running"
    cell.worker = worker
    cell.lease_expires_at = now + timedelta(seconds=lease_s)
    session.add(CellEvent(cell_id=cell.id, run_id=run_id, worker=worker, event="claimed"))
    session.flush()
    return "claimed"


def release(session: "Session", config_hash: str, worker: str, pending: bool = False) -> None:
    """Drop ``worker``'s claim on the cell (after its outcome is stored; ``pending``: none was, and a
    cell marked running goes back to pending)."""
    held = session.execute(update(Cell).where(Cell.config_hash == config_hash, Cell.worker == worker)
                           .values(worker=None, lease_expires_at=None)).rowcount
    if pending and held:
        session.execute(update(Cell).where(Cell.config_hash == config_hash, Cell.status == "running")
                        .values(status="pending"))


def heartbeat(session: "Session", worker: str, lease_s: float = DEFAULT_LEASE_S, run_id: int | None = None) -> int:
    """Extend every lease ``worker`` holds (and mark run ``run_id`` alive); returns how many cells it holds."""
    now = utcnow()
    if run_id is not None:
        session.execute(update(Run).where(Run.id == run_id).values(heartbeat_at=now))
    result = session.execute(update(Cell).where(Cell.worker == worker)
                             .values(lease_expires_at=now + timedelta(seconds=lease_s)))
    return int(result.rowcount or 0)


def mark_dead_runs(session: "Session") -> list[int]:
    """Mark ``died`` every run still ``running`` whose owner is gone: its process is known to be
    gone, or it missed a whole lease of heartbeats (runs from before heartbeats: since it started).
    Returns their ids."""
    now, dead = utcnow(), []
    for run in session.scalars(select(Run).where(Run.status == "running").with_for_update()):
        lease = run.options.get("lease_s") if isinstance(run.options, dict) else None
        lease = float(lease) if isinstance(lease, (int, float)) and lease > 0 else DEFAULT_LEASE_S
        last = _aware(run.heartbeat_at or run.started_at)
        if (run.worker and process_gone(run.worker)) or (last is not None and last + timedelta(seconds=lease) < now):
            run.status, run.finished_at = "died", last
            dead.append(run.id)
    session.flush()
    return dead


class Heartbeat:
    """A daemon thread extending ``worker``'s leases (and run ``run_id``'s heartbeat) every third
    of a lease while it runs."""

    def __init__(self, storage: "Storage", worker: str, lease_s: float = DEFAULT_LEASE_S, run_id: int | None = None) -> None:
        self.storage, self.worker, self.lease_s, self.run_id = storage, worker, lease_s, run_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"recsec-heartbeat-{worker}", daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(self.lease_s / 3):
            try:
                with self.storage.transaction() as s:
                    heartbeat(s, self.worker, self.lease_s, self.run_id)
            except Exception:  # noqa: BLE001 - a missed beat only shortens the lease; the next one retries
                pass

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
