"""The matrix runner: plans a spec's cells, skips the finished ones, computes the others in
their arenas (``recsec.workbench``) and stores every outcome.

Finished cells are skipped on the next run (``force`` recomputes, keeping the stored result
until a new one replaces it), so an interrupted run resumes where it stopped. A cell whose
component raises (anything, ``SystemExit`` and ``KeyboardInterrupt`` included) is stored as
failed with its traceback and the matrix goes on; the user's Ctrl-C or SIGTERM (told apart by
``recsec.interrupts``) puts the current cell back to pending and stops. A cell whose process
dies is counted by ``recsec.storage.claims`` and stored failed at the second death. A run row
ends ``finished``, ``interrupted`` or ``died``.
"""

from __future__ import annotations

import logging
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from . import __version__, interrupts
from .cells import Cell, plan
from .dataset import DataContext
from .device import hardware_info, package_versions, resolve_device, use_deterministic_kernels
from .storage import claims
from .storage import repository as repo
from .storage.claims import Heartbeat
from .workbench import Workbench

if TYPE_CHECKING:  # pragma: no cover
    from .spec import Spec
    from .storage.db import Storage

#: One line per cell start and end (label, duration, status): what a batch job's log shows.
cell_log = logging.getLogger("recsec.cells")


@dataclass
class RunOptions:
    """How to run a spec (the CLI's flags)."""

    device: str = "auto"
    force: bool = False
    artifacts_dir: Path = Path("recsec-artifacts")
    data_dir: str | None = None
    allow_download: bool = True
    progress: bool = False
    log: Callable[[str], None] = print
    #: (I, N): run only shard I of N (whole victim groups, see ``cells.shard``); None = every cell
    shard: tuple[int, int] | None = None
    #: run only the cells matching these fields (``cells.parse_only``, applied before ``shard``); empty = all
    only: dict[str, frozenset[str]] = field(default_factory=dict)
    #: seconds a claim lasts without a heartbeat (``recsec.storage.claims``)
    lease_s: float = 90.0
    #: run on a local Dask cluster of this many worker processes (0: in this process; see
    #: ``recsec.distributed.DistributedRunner``, which ``recsec.api.runner_for`` picks)
    workers: int = 0
    #: run on an existing Dask cluster: a scheduler address or a scheduler file
    scheduler: str | None = None
    #: with ``workers``: GPUs to put workers on and workers per GPU (small cells packed on one card)
    gpus: tuple[int, ...] = ()
    per_gpu: int = 1
    #: Optuna trials of one tuned cell run as this many parallel tasks (distributed runs)
    trial_tasks: int = 0
    #: torch threads of each process computing cells (0: ``recsec.device.thread_policy``'s default)
    threads: int = 0
    #: compute into this existing run (a supervised child, ``recsec.supervisor``) instead of starting one
    run_id: int | None = None


@dataclass
class RunSummary:
    run_id: int
    counts: dict[str, int] = field(default_factory=lambda: {"done": 0, "cached": 0, "failed": 0, "skipped": 0})
    #: cells another worker computed while this run waited for them
    elsewhere: int = 0
    waited: set = field(default_factory=set, repr=False)
    failures: list[tuple[str, str]] = field(default_factory=list)


def component_versions(cell: Cell) -> dict[str, str]:
    out = {}
    for comp in (cell.dataset, cell.recommender, cell.attack, cell.defense):
        out[comp.kind] = f"{comp.name}@{comp.version} ({comp.plugin or comp.__module__} {comp.plugin_version})".strip()
    return out


def _error_line(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):  # only a component's reaches here: a real one stops the run
        return "KeyboardInterrupt raised by a component (no Ctrl-C or signal was received)"
    return f"{type(exc).__name__}: {exc}".splitlines()[0] if str(exc) else type(exc).__name__


def cell_identity(cell: Cell) -> repo.CellIdentity:
    """What the database stores to name ``cell`` (``recsec.storage.repository.CellIdentity``)."""
    return repo.CellIdentity(config_hash=cell.config_hash, benchmark=cell.benchmark, dataset=cell.dataset.instance_name,
                             recommender=cell.recommender.instance_name, attack=cell.attack.instance_name,
                             defense=cell.defense.instance_name, seed=cell.seed, data_fingerprint=cell.data_fingerprint,
                             config={**cell.config, "primary_metric": cell.attack.primary_metric})


class Runner:
    """Runs one spec against one results store."""

    def __init__(self, spec: "Spec", storage: "Storage", options: RunOptions) -> None:
        self.spec, self.storage, self.opt = spec, storage, options
        self.device = resolve_device(options.device if options.device != "auto" or not spec.device else spec.device)
        use_deterministic_kernels(self.device)  # before hardware_info records it (RunContexts do it too)
        self.hardware = hardware_info()
        self.data_ctx = DataContext.from_env(options.data_dir, allow_download=options.allow_download, progress=options.progress)
        self.worker = claims.new_worker_id()
        self.bench = Workbench(device=self.device, data_ctx=self.data_ctx, artifacts_dir=options.artifacts_dir,
                               storage=storage, log=options.log, progress=options.progress)

    def run(self) -> RunSummary:
        from tqdm import tqdm
        cells = plan(self.spec, self.opt.only, self.opt.shard, self.data_ctx)  # data errors before a run row
        owner = self.opt.run_id is None  # a supervised child computes into its parent's run
        run_id = self._start_run() if owner else self.opt.run_id
        summary = RunSummary(run_id)
        bar = tqdm(total=len(cells), desc=self.spec.name, unit="cell", disable=not self.opt.progress, dynamic_ncols=True)
        status = "died"  # unless it ends one of the two ways below (e.g. the database went away)
        try:
            with interrupts.watch(), Heartbeat(self.storage, self.worker, self.opt.lease_s, run_id if owner else None):
                self._execute(cells, run_id, summary, bar)
            status = "finished"
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        finally:
            bar.close()
            if owner:
                with self.storage.transaction() as s:
                    repo.finish_run(s, run_id, status)
        return summary

    def _start_run(self) -> int:
        with self.storage.transaction() as s:
            if dead := claims.mark_dead_runs(s):
                self.opt.log(f"runs {', '.join(map(str, dead))} stopped without ending (their process died): marked died")
            return repo.start_run(
                s, benchmark=self.spec.name, spec_path=self.spec.path, spec_text=self.spec.text,
                recsec_version=__version__, hardware=self.hardware, worker=self.worker,
                options={"device": str(self.device), "force": self.opt.force, "lease_s": self.opt.lease_s,
                         "only": {k: sorted(v) for k, v in self.opt.only.items()}})

    def _execute(self, cells: list[Cell], run_id: int, summary: RunSummary, bar: Any) -> None:
        """Compute ``cells`` in this process (``recsec.distributed.DistributedRunner``: on a cluster)."""
        waiting = self._pass(cells, run_id, summary, bar)
        while waiting:  # cells another worker holds: wait until they are done or their lease expires
            time.sleep(min(5.0, self.opt.lease_s / 4))
            waiting = self._pass(waiting, run_id, summary, bar)

    def _pass(self, cells: list[Cell], run_id: int, summary: RunSummary, bar: Any) -> list[Cell]:
        """Run every cell this worker can claim; return those another worker holds."""
        busy = []
        for cell in cells:
            bar.set_postfix_str(f"{cell.dataset.instance_name} / {cell.recommender.instance_name}"[:60])
            outcome = self._run_one(cell, run_id, summary)
            if outcome == "busy":
                busy.append(cell)
                continue
            if outcome == "cached" and cell.config_hash in summary.waited:
                summary.elsewhere += 1
            summary.counts[outcome] += 1
            bar.update(1)
        summary.waited.update(c.config_hash for c in busy)
        return busy

    def _run_one(self, cell: Cell, run_id: int, summary: RunSummary) -> str:
        key = cell.config_hash
        ident = cell_identity(cell)
        with self.storage.transaction() as s:
            existing = repo.get_cell(s, key)
            # a tuned cell whose study has fewer trials than the spec now asks for is continued
            extend = (existing is not None and existing.status == "done" and self.spec.tune is not None
                      and (existing.n_trials or 0) < self.spec.tune.n_trials)
            if existing is not None and existing.status in ("done", "skipped") and not (self.opt.force or extend):
                return "cached"
            if existing is not None and claims.died_out(existing) and not self.opt.force:  # not even its skip()
                return self._report_failure(cell, existing.error or "the process died", False, summary)
            had_result = existing is not None and existing.status == "done"
            try:
                reason = cell.skip_reason()
            except BaseException as exc:  # noqa: BLE001 - a plugin's skip() may raise anything, SystemExit too
                if isinstance(exc, KeyboardInterrupt) and interrupts.requested():
                    raise
                if claims.claim(s, ident, worker=self.worker, lease_s=self.opt.lease_s, force=True, run_id=run_id) == "busy":
                    return "busy"
                return self._failed(s, cell, run_id, exc, "skip()", had_result, summary)
            if reason:
                repo.save_skipped(s, ident, reason=reason, run_id=run_id)
                repo.add_event(s, key, "skipped", run_id=run_id, detail=reason)
                return "skipped"
            state = claims.claim(s, ident, worker=self.worker, lease_s=self.opt.lease_s, force=self.opt.force or extend,
                                 run_id=run_id)
            if state == "died":  # stored failed by the claim: it killed its process too often
                return self._report_failure(cell, repo.get_cell(s, key).error or "the process died", had_result, summary)
            if state != "claimed":
                return state
        cell_log.info("start %s", cell.label)
        t0 = time.perf_counter()
        try:
            out = self.bench.compute(cell, self.spec.tune, force=self.opt.force)
        except BaseException as exc:  # noqa: BLE001 - a failing cell (SystemExit included) is recorded; the matrix goes on
            if isinstance(exc, KeyboardInterrupt) and interrupts.requested():
                with self.storage.transaction() as s:
                    repo.save_failed(s, key, error="interrupted", traceback="KeyboardInterrupt: the run was interrupted",
                                     status="pending", keep_result=had_result)
                    repo.add_event(s, key, "interrupted", run_id=run_id, worker=self.worker)
                    claims.release(s, key, self.worker)
                raise
            with self.storage.transaction() as s:
                return self._failed(s, cell, run_id, exc, "compute", had_result, summary)
        with self.storage.transaction() as s:
            repo.save_done(s, key, metrics=out.metrics, timings=out.timings, diagnostics=out.diagnostics,
                           curves=out.curves, versions={**package_versions(), **component_versions(cell)},
                           hardware=self.hardware, victim_key=cell.victim_key, n_trials=out.n_trials,
                           study_name=out.study_name, data_fingerprint=cell.data_fingerprint)
            if out.trials:
                repo.save_trials(s, key, out.trials)
            repo.add_event(s, key, "done", run_id=run_id, worker=self.worker)
            claims.release(s, key, self.worker)
        cell_log.info("done  %s (%.1f s)", cell.label, time.perf_counter() - t0)
        return "done"

    def _failed(self, s: Any, cell: Cell, run_id: int, exc: BaseException, where: str, had_result: bool,
                summary: RunSummary) -> str:
        tb = "".join(traceback.format_exception(exc))
        repo.save_failed(s, cell.config_hash, error=_error_line(exc), traceback=tb, keep_result=had_result)
        repo.add_event(s, cell.config_hash, "failed", run_id=run_id, worker=self.worker, detail=f"{where}: {_error_line(exc)}")
        claims.release(s, cell.config_hash, self.worker)
        return self._report_failure(cell, _error_line(exc), had_result, summary)

    def _report_failure(self, cell: Cell, error: str, had_result: bool, summary: RunSummary) -> str:
        summary.failures.append((cell.label, error))
        kept = " (the stored result is kept)" if had_result else ""
        self.opt.log(f"FAILED {cell.label}: {error}{kept}")
        cell_log.warning("failed %s: %s%s", cell.label, error, kept)
        return "failed"
