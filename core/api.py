"""recsec's Python API for running benchmarks: ``recsec.run(spec, db=..., workers=..., only=...)``.

The same checks and the same runner as ``recsec run`` (the command line calls this): the spec
is validated, the data directory, artifacts folder and device are checked and every dataset
is loaded once before the results database is opened, so bad input stores nothing. Results
are read back with ``recsec.load_results`` / ``recsec.load_trials`` (pandas DataFrames).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

if TYPE_CHECKING:  # pragma: no cover
    from .runner import RunOptions, Runner, RunSummary
    from .spec import Spec
    from .storage.db import Storage

log = logging.getLogger("recsec.progress")

#: The embedded default benchmark, shipped inside the package (``recsec run`` without a spec).
DEFAULT_SPEC = "default.toml"


def default_spec_path() -> Path:
    from importlib import resources

    return Path(str(resources.files("recsec") / DEFAULT_SPEC))


def runner_for(spec: "Spec", storage: "Storage", options: "RunOptions", supervise: bool = False) -> "Runner":
    """A Runner for ``options``: on a Dask cluster when ``workers`` or ``scheduler`` is set, else in
    this process or (``supervise``) in a child process that may die (``recsec.supervisor``)."""
    if options.workers or options.scheduler:
        from .distributed import DistributedRunner

        return DistributedRunner(spec, storage, options)
    if supervise:
        from .supervisor import SupervisedRunner

        return SupervisedRunner(spec, storage, options)
    from .runner import Runner

    return Runner(spec, storage, options)


def run(spec: "str | Path | Spec | None" = None, *, db: str | None = None, workers: int = 0, scheduler: str | None = None,
        only: Sequence[str] = (), shard: str | None = None, data_dir: str | None = None, device: str = "auto",
        force: bool = False, artifacts: str | Path = "recsec-artifacts", allow_download: bool = True,
        progress: bool = False, gpus: Sequence[int] = (), per_gpu: int = 1, trial_tasks: int = 0,
        lease_s: float = 90.0, threads: int = 0, threads_per_worker: int = 0, supervise: bool | None = None,
        announce: Callable[[str], None] | None = None) -> "RunSummary":
    """Run a spec (a path, a parsed ``Spec``, or None for the embedded default) into ``db``.

    ``only``: ``FIELD=VALUE`` selections as ``--only``; ``shard``: ``"I/N"``. ``workers``: run on
    a local Dask cluster of that many processes (``gpus``/``per_gpu``: workers per GPU);
    ``scheduler``: an existing cluster's address or scheduler file; ``threads``: torch threads of
    each process computing cells, this one's or each Dask worker's (0: the cores available divided
    among them, ``recsec.device.thread_policy``; ``threads_per_worker`` is its old name).
    ``supervise``: compute in a child process, so that a cell that kills it (OOM, segfault,
    ``os._exit``) is recorded with its exit status and the matrix goes on (``recsec.supervisor``);
    by default whenever a child can rebuild the plugin registry (installed plugins only).
    Returns the run's summary (counts of done, cached, skipped and failed cells).
    """
    import os

    from .device import thread_env, thread_policy

    threads = threads or threads_per_worker
    if threads < 0:
        from .errors import RecsecError

        raise RecsecError(f"--threads {threads}: must be 0 (the default policy) or a positive number of threads")
    distributed = bool(workers or scheduler)
    thread_env()  # before anything imports torch (the device check below does): OpenMP reads it once
    from . import preflight
    from .cells import parse_only, parse_shard, plan
    from .dataset import DataContext
    from .registry import default_registry
    from .runner import RunOptions
    from .spec import Spec, load_spec
    from .storage.db import Storage
    from .supervisor import can_rebuild

    reg = default_registry()
    if supervise is None:
        supervise = not distributed and "RECSEC_SUPERVISED" not in os.environ and can_rebuild(reg)
    if not isinstance(spec, Spec):
        spec = load_spec(Path(spec) if spec is not None else default_spec_path(), reg)
    selected = parse_only(list(only), spec, reg)
    part = parse_shard(shard) if shard else None
    preflight.check_artifacts_dir(str(artifacts))
    resolved = preflight.run_device(device, spec.device)
    data = DataContext.from_env(data_dir, allow_download=allow_download, progress=progress)
    preflight.check_data_dir(data)
    cells = plan(spec, selected, part, data)
    preflight.load_datasets(cells, data)
    thread_policy(threads)  # this process's threads (a supervised child or each Dask worker sets its own)
    storage = Storage(db)
    storage.ensure_schema()
    options = RunOptions(device=resolved, force=force, artifacts_dir=Path(artifacts), data_dir=data_dir,
                         allow_download=allow_download, progress=progress, log=log.info, shard=part, only=selected,
                         lease_s=lease_s, workers=workers, scheduler=scheduler, gpus=tuple(gpus), per_gpu=per_gpu,
                         trial_tasks=trial_tasks, threads=threads)
    if announce is not None:
        where = f" on {workers} workers" if workers else (f" on {scheduler}" if scheduler else "")
        announce(f"{spec.name}: {len(cells)} cells -> {storage.display_url}{where}")
    return runner_for(spec, storage, options, supervise=supervise and not distributed).run()
