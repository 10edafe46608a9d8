"""The matrix on a real local Dask cluster: each cell computed once, the same numbers as one
process, and a worker killed with SIGKILL mid-cell whose cell is reclaimed and finished."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from sqlalchemy import select

from recsec.api import runner_for
from recsec.runner import RunOptions, Runner
from recsec.spec import parse_spec
from recsec.storage import repository as repo
from recsec.storage.models import CellEvent

pytest.importorskip("distributed")

SPEC = """
datasets = ["toy-data"]
recommenders = ["toy-popular"]
defenses = ["none", "toy-reverse"]

[benchmark]
name = "dask"
seeds = [0, 1]

[[attacks]]
name = "toy-probe"
params = { n_queries = [5, 10], sleep_s = SLEEP }
"""

JUDGED = ("attack.agr@10", "attack.holdout_agr@10", "attack.queries", "utility.hr@10", "defended.hr@10")


@pytest.fixture
def workers_see_the_toy_plugin(thirdparty_dists, monkeypatch):
    from conftest import THIRDPARTY

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(thirdparty_dists), str(THIRDPARTY), os.environ.get("PYTHONPATH", "")]))
    from recsec.registry import default_registry

    return default_registry()


def _metrics(storage) -> dict:
    with storage.transaction() as s:
        return {(c.attack, c.defense, c.seed): ({k: c.metrics[k] for k in JUDGED}, c.computations, c.status)
                for c in repo.list_cells(s)}


@pytest.mark.postgres
def test_two_workers_compute_every_cell_once_with_the_numbers_of_one_process(workers_see_the_toy_plugin, pg_url,
                                                                              tmp_path):
    from recsec.storage.db import Storage

    reg = workers_see_the_toy_plugin
    spec = parse_spec(SPEC.replace("SLEEP", "0.5"), reg, "dask.toml")
    single = Storage(f"sqlite:///{tmp_path / 'single.db'}").ensure_schema()
    Runner(spec, single, RunOptions(device="cpu", artifacts_dir=tmp_path / "a1", log=lambda m: None)).run()
    cluster = Storage(pg_url).ensure_schema()
    summary = runner_for(spec, cluster, RunOptions(device="cpu", artifacts_dir=tmp_path / "a2", log=lambda m: None,
                                                   workers=2)).run()
    assert summary.counts == {"done": 8, "cached": 0, "failed": 0, "skipped": 0}
    one, two = _metrics(single), _metrics(cluster)
    assert one == two  # same judged numbers, each cell computed exactly once, all done
    assert {c for _, c, _ in two.values()} == {1}
    with cluster.transaction() as s:
        workers = {e.worker for e in s.scalars(select(CellEvent).where(CellEvent.event == "done"))}
    assert len(workers) == 2  # both workers computed cells
    single.dispose()
    cluster.dispose()


@pytest.mark.postgres
def test_a_worker_killed_mid_cell_leaves_a_cell_that_is_reclaimed_and_finished(workers_see_the_toy_plugin, pg_url,
                                                                              tmp_path):
    from distributed import Client, LocalCluster

    from recsec.storage.db import Storage

    reg = workers_see_the_toy_plugin
    spec = parse_spec(SPEC.replace("SLEEP", "2.0"), reg, "dask.toml")
    storage = Storage(pg_url).ensure_schema()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        client.write_scheduler_file(str(tmp_path / "scheduler.json"))  # as dask-jobqueue's clusters hand it out
        opts = RunOptions(device="cpu", artifacts_dir=tmp_path / "a", log=lambda m: None, lease_s=4.0,
                          scheduler=str(tmp_path / "scheduler.json"))
        done: list = []
        thread = threading.Thread(target=lambda: done.append(runner_for(spec, storage, opts).run()))
        thread.start()
        victim = None
        deadline = time.time() + 120
        while victim is None and time.time() < deadline:  # wait until a worker holds a cell, then kill it
            with storage.transaction() as s:
                held = [c for c in repo.list_cells(s) if c.status == "running" and c.worker]
            if held:
                victim = held[0]
                os.kill(int(victim.worker.split(":")[1]), signal.SIGKILL)
            time.sleep(0.2)
        thread.join(timeout=300)
    assert victim is not None and done and done[0].counts["done"] + done[0].counts["cached"] == 8
    with storage.transaction() as s:
        cell = repo.get_cell(s, victim.config_hash)
        events = [e.event for e in s.scalars(select(CellEvent).where(CellEvent.cell_id == cell.id).order_by(CellEvent.id))]
        assert {c.status for c in repo.list_cells(s)} == {"done"}
    # the death (the nanny's report) and the other worker's reclaim race each other: their order varies
    assert cell.computations == 1 and events[0] == "claimed" and events[-1] == "done", events
    # Each worker claims the cell once to train its victim and once to compute it, so the count
    # depends on where the kill landed; what must hold: a claim after the death, and one outcome.
    assert {"lost", "died"} <= set(events) and events.count("done") == 1, events
    after_death = events[max(events.index("lost"), events.index("died")):]
    assert "claimed" in after_death and events.count("claimed") >= 2, events
    storage.dispose()


@pytest.mark.slow
@pytest.mark.postgres
def test_a_worker_that_dies_on_a_cell_has_it_recorded_and_the_run_goes_on(workers_see_the_toy_plugin, thirdparty_dists,
                                                                           pg_url, tmp_path, monkeypatch):
    """A victim whose training SIGKILLs its Dask worker (as the OOM killer would): the nanny records
    each death with the signal, the second stores the cell failed, the other cell and the run finish."""
    from conftest import _write_dist

    from recsec.registry import default_registry
    from recsec.storage.db import Storage
    from recsec.storage.models import Run

    import recsec.registry

    _write_dist(thirdparty_dists, "recsec-dying", "1.0", {"dying": "recsec_dying_plugin"})
    monkeypatch.setattr(recsec.registry, "_DEFAULT", None)
    monkeypatch.setenv("RECSEC_ISOLATE", "0")  # no attacker processes: only the workers' deaths matter here
    text = """
datasets = ["toy-data"]
recommenders = ["dying-popular[mode=kill]", "toy-popular"]
attacks = ["toy-probe"]
defenses = ["none"]

[benchmark]
name = "dask-dying"
seeds = [0]
"""
    spec = parse_spec(text, default_registry(), "dying.toml")
    storage = Storage(pg_url).ensure_schema()
    summary = runner_for(spec, storage, RunOptions(device="cpu", artifacts_dir=tmp_path / "a", log=lambda m: None,
                                                   workers=1, lease_s=30.0)).run()
    assert summary.counts == {"done": 1, "cached": 0, "failed": 1, "skipped": 0}
    with storage.transaction() as s:
        cells = {c.recommender: c for c in repo.list_cells(s)}
        died = [e.detail for e in s.scalars(select(CellEvent).where(CellEvent.event == "died"))]
        assert [r.status for r in s.scalars(select(Run))] == ["finished"]
    bad = cells["dying-popular[mode=kill]"]
    assert bad.status == "failed" and bad.deaths == 2 and bad.error.startswith("the process died: signal 9 (SIGKILL)")
    assert died == ["signal 9 (SIGKILL)"] * 2 and cells["toy-popular"].status == "done"
    storage.dispose()


@pytest.mark.postgres
def test_a_tuned_cells_trials_run_as_parallel_tasks_on_one_study(workers_see_the_toy_plugin, pg_url, tmp_path):
    import optuna

    from recsec.storage.db import Storage

    text = SPEC.replace("params = { n_queries = [5, 10], sleep_s = SLEEP }", "params = { sleep_s = 0.3 }")
    text = text.replace('defenses = ["none", "toy-reverse"]', 'defenses = ["none"]').replace("seeds = [0, 1]", "seeds = [0]")
    spec = parse_spec(text + "\n[tune]\nn_trials = 6\nsampler_seed = 1\n", workers_see_the_toy_plugin, "tuned.toml")
    storage = Storage(pg_url).ensure_schema()
    summary = runner_for(spec, storage, RunOptions(device="cpu", artifacts_dir=tmp_path / "a", log=lambda m: None,
                                                   workers=2, trial_tasks=2)).run()
    assert summary.counts["done"] == 1
    with storage.transaction() as s:
        (cell,) = repo.list_cells(s)
        assert cell.n_trials == 6 and len(cell.trials) == 6
    study = optuna.load_study(study_name=cell.study_name, storage=storage.url)
    assert len({t.user_attrs.get("worker") for t in study.trials}) == 2  # both tasks ran trials
    storage.dispose()


def test_the_slurm_example_writes_one_gpu_per_worker_job():
    """benchmarks/cluster/slurm.py, the documented dask-jobqueue set-up: its job script (nothing submitted)."""
    pytest.importorskip("dask_jobqueue")
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "cluster" / "slurm.py"
    spec = importlib.util.spec_from_file_location("slurm_example", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cluster = module.make_cluster("slurm", cores=8, memory="16GB", walltime="02:00:00")
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    assert "#SBATCH --gres=gpu:1" in script and "#SBATCH --cpus-per-task=8" in script
    assert "--nthreads 1" in script and "dask_worker" in script
