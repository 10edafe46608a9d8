"""Running a matrix on a Dask cluster: local processes, GPUs, or an existing scheduler.

The unit of scheduling respects victim sharing: each victim group (cells with one
``training_key``) gets one training task, and its cells depend on it, so a victim is
trained once and its cells then run in parallel wherever there is room (they reload
the checkpoint from ``--artifacts``, which must be a folder every worker can read).
A tuned cell's Optuna trials run as several tasks on one study in the database.

The database stays the source of truth: every cell task claims its cell with a lease
before computing (``recsec.storage.claims``), so a task that Dask reschedules after its
worker died waits for the dead worker's lease to expire, records it as lost and
computes the cell; two runs started on one spec and database never compute a cell
twice. Workers each hold a ``Runner`` for the spec (its heartbeat thread extends their
leases) and write results themselves; the client only plans, submits and reports.

A worker process that dies on a cell (OOM, segfault, ``os._exit``) is counted on the cell as
in one process (``recsec.storage.claims``): on a local cluster its nanny, which lives in this
process, records its exit status; on an existing cluster the next claim notices the lost
lease. At the second death the cell is stored failed and its task returns that; a task Dask
gives up on (``KilledWorker``) is stored failed too, so no cell of the run goes unrecorded.
Each worker applies the thread policy (``recsec.device.thread_policy``): ``--threads`` torch
threads, by default its host's cores divided among the workers there.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from .cells import Cell, plan
from .runner import Runner, cell_identity

if TYPE_CHECKING:  # pragma: no cover
    from distributed import Client

    from .runner import RunOptions, RunSummary
    from .spec import Spec
    from .storage.db import Storage

log = logging.getLogger("recsec.distributed")


@dataclass(frozen=True)
class Job:
    """What a worker needs to rebuild the run: the spec's text, the database and the options."""

    spec_text: str
    spec_path: str
    db_url: str
    device: str
    force: bool
    artifacts_dir: str
    data_dir: str | None
    allow_download: bool
    lease_s: float
    threads: int
    #: processes computing at once on one host (the default thread count divides the cores among them)
    per_host: int = 1


_STATE: dict[Job, tuple["Runner", dict[str, Cell]]] = {}


def _runner(job: Job) -> tuple["Runner", dict[str, Cell]]:
    """This worker process's Runner for ``job`` (built once: registry, spec, database, caches)."""
    if job not in _STATE:
        from .device import thread_policy
        from .registry import default_registry
        from .runner import RunOptions
        from .spec import parse_spec
        from .storage.claims import Heartbeat
        from .storage.db import Storage

        thread_policy(job.threads, job.per_host)  # before torch is imported in this worker
        spec = parse_spec(job.spec_text, default_registry(), job.spec_path)
        opts = RunOptions(device=job.device, force=job.force, artifacts_dir=Path(job.artifacts_dir), data_dir=job.data_dir,
                          allow_download=job.allow_download, log=logging.getLogger("recsec.worker").info, lease_s=job.lease_s)
        runner = Runner(spec, Storage(job.db_url), opts)
        # The worker's heartbeat lives as long as the process: a killed worker stops extending its leases.
        Heartbeat(runner.storage, runner.worker, job.lease_s).__enter__()
        _STATE[job] = (runner, {c.config_hash: c for c in plan(spec, None, None, runner.data_ctx)})
    return _STATE[job]


def train_task(job: Job, config_hash: str) -> str | None:
    """Train (or find) the victim of the cell's group; returns its victim key, None when training
    failed (each of the group's cells then fails with the traceback, as in one process)."""
    from .storage import claims

    runner, cells = _runner(job)
    cell = cells[config_hash]
    # Held while it trains, so a worker that dies training counts a death on the cell (its nanny
    # records it): a victim that kills its worker twice fails the cell instead of every retry.
    with runner.storage.transaction() as s:
        state = claims.claim(s, cell_identity(cell), worker=runner.worker, lease_s=job.lease_s, force=job.force)
    if state == "died":
        return None
    try:
        runner.bench.victim(cell)
    except BaseException:  # noqa: BLE001 - recorded per cell by cell_task, which retries the training
        return None
    finally:
        if state == "claimed":  # the cell task claims it again to compute it
            with runner.storage.transaction() as s:
                claims.release(s, config_hash, runner.worker, pending=True)
    return cell.victim_key


def trials_task(job: Job, config_hash: str, n_trials: int) -> int:
    """Run ``n_trials`` trials of the cell's study (several such tasks share one study)."""
    from .tuning import tune_cell

    runner, cells = _runner(job)
    cell = cells[config_hash]
    tune_cell(runner.bench.arena(cell), cell, runner.spec.tune, job.db_url, force=False, n_trials=n_trials, finalize=False)
    return n_trials


def cell_task(job: Job, config_hash: str, run_id: int, *after: Any) -> dict[str, Any]:
    """Claim and compute one cell; waits while another live worker holds it."""
    from .runner import RunSummary

    runner, cells = _runner(job)
    cell = cells[config_hash]
    summary = RunSummary(run_id)
    t0 = time.perf_counter()
    while True:
        outcome = runner._run_one(cell, run_id, summary)
        if outcome != "busy":
            break
        time.sleep(min(5.0, job.lease_s / 4))
    return {"outcome": outcome, "label": cell.label, "seconds": time.perf_counter() - t0,
            "failures": summary.failures, "worker": runner.worker}


#: Where the nannies of a local cluster record their workers' deaths: (storage, run id) of the run.
_DEATHS: dict[str, Any] = {}


def _recording_nanny() -> type:
    """A ``Nanny`` that records the exit status of its worker process on the cells it held."""
    import socket

    from distributed import Nanny
    from distributed.core import Status

    class RecordingNanny(Nanny):
        async def instantiate(self) -> Any:
            status = await super().instantiate()
            self.recsec_pid = self.process.pid if self.process is not None else None
            return status

        def _on_worker_exit_sync(self, exitcode: int) -> None:
            pid, target = getattr(self, "recsec_pid", None), dict(_DEATHS)
            if pid and target and self.status == Status.running:  # not a cluster closing its workers
                from .storage import claims
                from .interrupts import exit_cause

                try:
                    with target["storage"].transaction() as s:
                        claims.record_death(s, f"{socket.gethostname()}:{pid}:", exit_cause(exitcode), target["run_id"])
                except Exception:  # noqa: BLE001 - the lease still tells the next claim
                    log.exception("could not record the death of worker process %s", pid)
            super()._on_worker_exit_sync(exitcode)

    return RecordingNanny


def local_cluster(workers: int, gpus: list[int] | None = None, per_gpu: int = 1) -> Any:
    """A cluster of worker processes on this machine: ``workers`` CPU slots, or ``per_gpu`` workers
    on each of ``gpus`` (each sees only its GPU, as ``cuda``)."""
    from distributed import LocalCluster, SpecCluster, Scheduler

    nanny = _recording_nanny()
    if not gpus:
        return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                            worker_class=nanny)
    specs = {f"gpu{g}-{i}": {"cls": nanny, "options": {"nthreads": 1, "env": {"CUDA_VISIBLE_DEVICES": str(g)}}}
             for g in gpus for i in range(per_gpu)}
    return SpecCluster(scheduler={"cls": Scheduler, "options": {"dashboard_address": None}}, workers=specs)


@contextmanager
def connect(options: "RunOptions") -> Iterator["Client"]:
    """A client of the cluster the options name: an existing scheduler (address or scheduler
    file) or a local cluster started for this run and closed after it."""
    from distributed import Client

    if options.scheduler:
        target = options.scheduler
        client = Client(scheduler_file=target) if Path(target).is_file() else Client(target)
        try:
            yield client
        finally:
            client.close()
        return
    with local_cluster(options.workers, list(options.gpus), options.per_gpu) as cluster, Client(cluster) as client:
        yield client


class DistributedRunner(Runner):
    """A Runner whose cells run on a Dask cluster (``options.workers`` or ``options.scheduler``)."""

    def _execute(self, cells: list[Cell], run_id: int, summary: "RunSummary", bar: Any) -> None:
        _DEATHS.update(storage=self.storage, run_id=run_id)
        try:
            with connect(self.opt) as client:
                run_on(client, self.spec, self.storage, self.opt, cells, run_id, summary, bar)
        finally:
            _DEATHS.clear()


def run_on(client: "Client", spec: "Spec", storage: "Storage", options: "RunOptions", cells: list[Cell],
           run_id: int, summary: "RunSummary", bar: Any = None) -> None:
    """Submit ``cells`` to ``client`` and collect their outcomes into ``summary`` (``bar``: progress)."""
    from distributed import as_completed

    hosts = Counter(w.get("host") for w in client.scheduler_info().get("workers", {}).values())
    job = Job(spec.text, spec.path, storage.url, options.device,
              options.force, str(options.artifacts_dir.resolve()), options.data_dir, options.allow_download,
              options.lease_s, options.threads, max(hosts.values(), default=1))
    groups: dict[str, list[Cell]] = {}  # training key -> the cells waiting for that victim
    ready: list[Cell] = []
    for cell in cells:
        try:
            needs_victim = cell.skip_reason() is None
        except BaseException:  # noqa: BLE001 - the worker records a raising skip() as the cell's failure
            needs_victim = False
        (groups.setdefault(cell.training_key, []) if needs_victim else ready).append(cell)

    submitted: dict[str, Cell] = {}

    def submit(cell: Cell, *deps: Any) -> Any:
        future = client.submit(cell_task, job, cell.config_hash, run_id, *deps, pure=False,
                               key=f"cell-{cell.config_hash[:16]}-{run_id}")
        submitted[future.key] = cell
        return future

    # A victim is trained once; its cells are submitted when it is ready, without a data dependency,
    # so the scheduler spreads them over idle workers (they reload the checkpoint).
    training = {client.submit(train_task, job, group[0].config_hash, pure=False,
                              key=f"victim-{key[:16]}-{run_id}"): key for key, group in groups.items()}
    pending = as_completed([*training, *(submit(c) for c in ready)])
    for future in pending:
        if future in training:
            for cell in groups[training[future]]:
                deps = []
                if spec.tune is not None and options.trial_tasks > 1:
                    share = -(-spec.tune.n_trials // options.trial_tasks)
                    deps = [client.submit(trials_task, job, cell.config_hash, share, pure=False)
                            for _ in range(options.trial_tasks)]
                pending.add(submit(cell, *deps))
            continue
        try:
            result = future.result()
        except Exception as exc:  # noqa: BLE001 - the task itself was lost (KilledWorker: its workers kept dying)
            result = _lost(storage, submitted[future.key], run_id, exc)
        summary.counts[result["outcome"]] += 1
        summary.failures.extend(result["failures"])
        log.info("%s %s (%.1f s, %s)", result["outcome"], result["label"], result["seconds"], result["worker"])
        if bar is not None:
            bar.update(1)


def _lost(storage: "Storage", cell: Cell, run_id: int, exc: BaseException) -> dict[str, Any]:
    """Store the cell of a task Dask gave up on as failed (unless its workers recorded an outcome)."""
    from .storage import repository as repo

    error = f"its task was lost: {type(exc).__name__}: {exc}".splitlines()[0]
    with storage.transaction() as s:
        row = repo.get_cell(s, cell.config_hash)
        if row is not None and row.status in ("done", "skipped", "failed"):
            outcome, error = ("failed", row.error or error) if row.status == "failed" else (row.status, None)
        else:
            repo.save_failed(s, cell.config_hash if row is not None else cell_identity(cell), error, error, run_id=run_id)
            repo.add_event(s, cell.config_hash, "failed", run_id=run_id, detail=error)
            outcome = "failed"
    log.warning("%s %s: %s", outcome, cell.label, error)
    return {"outcome": outcome, "label": cell.label, "seconds": 0.0, "worker": "-",
            "failures": [(cell.label, error)] if outcome == "failed" else []}

