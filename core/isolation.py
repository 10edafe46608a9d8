"""The attacker in its own process: a black box reached over a pipe, as a real service is.

Run in the arena's process, an attack could read what the threat model withholds: the
victim through ``gc`` or the black box's private fields, the split with its test targets,
the membership labels. Here it runs in a separate interpreter (started fresh with
``python -c``, never forked, so it inherits none of the parent's objects) that holds only
what it is sent: the attack's class and parameters, its context and the knowledge its
threat model grants (``KnowledgeParcel``). Its black box is a ``RemoteBlackBox``: every
``query`` travels to the arena, which answers through the real ``BlackBoxAPI`` (budget,
defense, log, journal), so the attack's traffic is exactly what the judges read. Its
output comes back pickled and is judged in the arena.

One worker process serves every attack of a thread of the parent process in turn (started
on first use, about as long as importing torch), so isolation costs one start per run plus the
pickling of each batch of queries and answers. A worker that dies (a segfault, an
``os._exit`` in the plugin) fails that cell with its exit code and is replaced for the
next. The worker ignores SIGINT: the user's Ctrl-C reaches the arena, which stops it.

What it does not isolate: the file system (an attacker process can still open files the
user can read, such as the artifacts folder); that needs a container or a second user.
"""

from __future__ import annotations

import atexit
import gc
import os
import pickle
import secrets
import subprocess
import sys
import threading
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Client, Connection, Listener
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from .errors import BudgetExhausted
from .interrupts import exit_cause
from .queries import Queries

if TYPE_CHECKING:  # pragma: no cover
    from .attack import Attack
    from .blackbox import BlackBoxAPI
    from .outputs import AttackOutput
    from .threat import Serving


def _send(conn: Connection, obj: Any) -> None:
    """Plain pickle (tensors by value): multiprocessing's own pickler would pass torch tensors as
    file descriptors of shared memory, which only works between a parent and the children it forked."""
    conn.send_bytes(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))


def _recv(conn: Connection) -> Any:
    return pickle.loads(conn.recv_bytes())


class AttackProcessDied(RuntimeError):
    """The attack's process ended without an answer (killed, crashed or exited)."""


class _RemoteTraceback(Exception):
    """The attack process's traceback, chained under the exception it raised."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class BoxInfo:
    """The public facts of a black box, as the attacker's process sees them."""

    n_items: int
    k: int
    budget: int | None
    serving: "Serving"
    queries_used: int = 0


class RemoteBlackBox:
    """The attacker's side of the pipe: the ``BlackBoxAPI`` contract (``query``, ``n_items``, ``k``,
    ``budget``, ``remaining``, ``queries_used``, ``serving``) with every answer from the arena."""

    def __init__(self, conn: Connection, info: BoxInfo) -> None:
        self._conn, self._info = conn, info
        self.n_items, self.k, self.budget = info.n_items, info.k, info.budget
        self.queries_used = info.queries_used

    @property
    def serving(self) -> "Serving":
        return self._info.serving

    @property
    def cold_start(self) -> str:
        return self._info.serving.cold_start

    @property
    def exclude_history(self) -> bool:
        return self._info.serving.exclude_history

    @property
    def remaining(self) -> int | None:
        return None if self.budget is None else self.budget - self.queries_used

    def query(self, histories: "Queries | list", users: np.ndarray | None = None, account: str | None = None) -> np.ndarray:
        q = histories if isinstance(histories, Queries) else Queries.of(histories, users)
        _send(self._conn, ("query", [np.asarray(h, dtype=np.int64) for h in q.histories],
                         None if q.users is None else np.asarray(q.users, dtype=np.int64), account))
        kind, payload = _recv(self._conn)
        if kind == "budget":
            raise BudgetExhausted(payload)
        self.queries_used += len(q)
        return payload


# -- the arena's side ---------------------------------------------------------------------------------


class _Worker:
    """One attacker process and the connection to it."""

    def __init__(self, threads: int) -> None:
        authkey = secrets.token_bytes(32)
        self.listener = Listener(family="AF_UNIX" if sys.platform != "win32" else "AF_PIPE", authkey=authkey)
        env = dict(os.environ, RECSEC_ATTACKER_ADDRESS=str(self.listener.address),
                   RECSEC_ATTACKER_AUTHKEY=authkey.hex(), RECSEC_ATTACKER_THREADS=str(threads),
                   PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        self.proc = subprocess.Popen([sys.executable, "-c", "from recsec.isolation import worker_main; worker_main()"],
                                     env=env, stdin=subprocess.DEVNULL)
        self.conn = self.listener.accept()
        self.threads = threads

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        try:
            if self.alive():
                _send(self.conn, ("stop",))
                self.proc.wait(timeout=5)
        except (OSError, EOFError, subprocess.TimeoutExpired):
            pass
        self.kill()

    def kill(self) -> None:
        if self.alive():
            self.proc.kill()
            self.proc.wait()
        for closable in (self.conn, self.listener):
            try:
                closable.close()
            except OSError:
                pass


#: One worker per thread of the arena's process (two runners in two threads never share a pipe).
_LOCAL = threading.local()
_ALL: list[_Worker] = []


def _worker(threads: int) -> _Worker:
    w: _Worker | None = getattr(_LOCAL, "worker", None)
    if w is None or not w.alive() or w.threads != threads:
        if w is not None:
            w.kill()
        w = _LOCAL.worker = _Worker(threads)
        _ALL[:] = [x for x in _ALL if x.alive()] + [w]
    return w


@atexit.register
def _stop_workers() -> None:
    for w in _ALL:
        w.stop()


def run_isolated(attack: "Attack", api: "BlackBoxAPI", parcel: Any, context: dict[str, Any],
                 log: Callable[[str], None]) -> "AttackOutput":
    """Run ``attack`` in the attacker process against ``api``; returns its output (unjudged).

    ``parcel``: the granted knowledge (``recsec.threat.KnowledgeParcel``); ``context``: the
    AttackContext's plain fields (seed, device, work_dir)."""
    import torch

    w = _worker(torch.get_num_threads())
    info = BoxInfo(api.n_items, api.k, api.budget, api.serving, api.queries_used)
    busy = True
    try:
        # the arena's import path now (a test or a third-party package may have added to it since
        # the worker started), so the worker can import the attack's module by its name
        job = pickle.dumps((type(attack), dict(attack.given_params), parcel, context, info), protocol=pickle.HIGHEST_PROTOCOL)
        _send(w.conn, ("run", list(sys.path), job))
        while True:
            try:
                msg = _recv(w.conn)
            except (EOFError, OSError):
                code = w.proc.wait()
                raise AttackProcessDied(f"the attack's process died ({exit_cause(code)}) before it returned an output")
            if msg[0] == "query":
                _, histories, users, account = msg
                try:
                    answers = api.query(Queries(histories, users), account=account)
                except BudgetExhausted as exc:
                    _send(w.conn, ("budget", str(exc)))
                else:
                    _send(w.conn, ("answers", answers))
            elif msg[0] == "log":
                log(msg[1])
            elif msg[0] == "done":
                busy = False
                return msg[1]
            else:  # ("error", exception or None, its type and message, traceback text)
                busy = False
                _, exc, what, tb = msg
                exc = exc if isinstance(exc, BaseException) else RuntimeError(what)
                raise exc from _RemoteTraceback(tb)
    except BaseException:
        if busy:  # Ctrl-C, a failing defense, a death: the worker is mid-attack, never reuse it
            w.kill()
        raise


# -- the attacker's side ------------------------------------------------------------------------------


def worker_main() -> None:
    """The attacker process: serve ``run`` requests until ``stop`` or the arena goes away."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the arena handles the user's Ctrl-C
    import torch

    torch.set_num_threads(max(1, int(os.environ.get("RECSEC_ATTACKER_THREADS", "1"))))
    conn = Client(os.environ["RECSEC_ATTACKER_ADDRESS"], authkey=bytes.fromhex(os.environ["RECSEC_ATTACKER_AUTHKEY"]))
    while True:
        try:
            msg = _recv(conn)
        except (EOFError, OSError):
            return
        if msg[0] == "stop":
            return
        try:
            sys.path[:0] = [p for p in msg[1] if p not in sys.path]
            msg = pickle.loads(msg[2])  # the job itself, unpickled once its modules can be found
            data = pickle.dumps(("done", _run_one(conn, *msg)), protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException as exc:  # noqa: BLE001 - every failure goes back to the arena, named
            _send_error(conn, exc)
        else:
            conn.send_bytes(data)
        # nothing of this run (its knowledge, its output) stays for the next one
        msg = data = None
        gc.collect()


def _send_error(conn: Connection, exc: BaseException) -> None:
    """The exception itself when it pickles, else its type and message; always the traceback text."""
    tb, what = traceback.format_exc(), f"{type(exc).__name__}: {exc}"
    try:
        data = pickle.dumps(("error", exc, what, tb))
    except Exception:  # noqa: BLE001 - an exception that does not pickle travels as its text
        data = pickle.dumps(("error", None, what, tb))
    conn.send_bytes(data)


def _run_one(conn: Connection, cls: type, given: dict[str, Any], parcel: Any,
             context: dict[str, Any], info: BoxInfo) -> "AttackOutput":
    from .context import AttackContext
    from .seeding import derive_seed, seed_global

    attack = cls(**given)
    seed_global(derive_seed(context["seed"], "attack-process"))
    ctx = AttackContext(seed=context["seed"], device=context["device"], work_dir=context["work_dir"],
                        log=lambda m: _send(conn, ("log", str(m))), knowledge=parcel.knowledge())
    return attack.run(RemoteBlackBox(conn, info), ctx)
