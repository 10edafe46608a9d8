"""Claims with leases: the database decides who computes a cell; dead workers' cells are taken over,
their deaths counted (the second fails the cell), and runs whose owner died are marked died."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time

from sqlalchemy import select

from recsec.runner import RunOptions, Runner, cell_identity
from recsec.spec import parse_spec
from recsec.storage import claims
from recsec.storage import repository as repo
from recsec.storage.models import CellEvent, Run

SPEC = """
datasets = ["toy-data"]
recommenders = ["toy-popular"]
defenses = ["none", "toy-reverse"]

[benchmark]
name = "claims"
seeds = [0, 1]

[[attacks]]
name = "toy-probe"
params = { n_queries = [5, 10], sleep_s = 0.2 }
"""


def _ident(n: int = 1) -> repo.CellIdentity:
    return repo.CellIdentity(config_hash=f"{n:064d}", benchmark="b", dataset="d", recommender="r", attack="a",
                             defense="none", seed=0)


def _events(storage) -> list[tuple[str, str]]:
    with storage.transaction() as s:
        return [(e.event, e.worker) for e in s.scalars(select(CellEvent).order_by(CellEvent.id))]


def test_a_claim_is_exclusive_until_its_lease_expires(storage):
    with storage.transaction() as s:
        assert claims.claim(s, _ident(), worker="a", lease_s=60) == "claimed"
    with storage.transaction() as s:
        assert claims.claim(s, _ident(), worker="b", lease_s=60) == "busy"
    with storage.transaction() as s:  # the holder's heartbeat extends it; b still waits
        assert claims.heartbeat(s, "a", lease_s=0.2) == 1
    time.sleep(0.4)  # a died: no more heartbeats
    with storage.transaction() as s:
        assert claims.claim(s, _ident(), worker="b", lease_s=60) == "claimed"
    assert _events(storage) == [("claimed", "a"), ("lost", "a"), ("died", "a"), ("claimed", "b")]
    with storage.transaction() as s:
        repo.save_done(s, _ident().config_hash, {"attack.auc": 0.5})
        claims.release(s, _ident().config_hash, "b")
    with storage.transaction() as s:
        assert claims.claim(s, _ident(), worker="c") == "cached"
        cell = repo.get_cell(s, _ident().config_hash)
        assert cell.worker is None and cell.computations == 1


def _run(registry, storage, tmp_path, results, lease_s=90.0):
    spec = parse_spec(SPEC, registry, "claims.toml")
    opts = RunOptions(device="cpu", artifacts_dir=tmp_path / "artifacts", log=lambda m: None, lease_s=lease_s)
    results.append(Runner(spec, storage, opts).run())


def test_two_runs_on_one_database_split_the_work_and_compute_each_cell_once(toy_registry, db_url, tmp_path):
    from recsec.storage.db import Storage

    stores = [Storage(db_url), Storage(db_url)]
    stores[0].ensure_schema()
    results: list = []
    threads = [threading.Thread(target=_run, args=(toy_registry, st, tmp_path, results)) for st in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 2
    done = [r.counts["done"] for r in results]
    assert sum(done) == 8 and all(d > 0 for d in done)  # both worked, nothing twice
    assert all(r.counts["done"] + r.counts["cached"] == 8 for r in results)
    with stores[0].transaction() as s:
        cells = repo.list_cells(s)
        assert len(cells) == 8 and {c.status for c in cells} == {"done"} and {c.computations for c in cells} == {1}
        assert all(c.worker is None for c in cells)
    for st in stores:
        st.dispose()


def test_a_dead_workers_cell_is_taken_over_when_its_lease_expires(toy_registry, storage, tmp_path):
    spec = parse_spec(SPEC, toy_registry, "claims.toml")
    cells = Runner(spec, storage, RunOptions(device="cpu", artifacts_dir=tmp_path, log=lambda m: None))
    from recsec.cells import plan

    first = plan(spec, None, None, cells.data_ctx)[0]
    ident = cell_identity(first)
    with storage.transaction() as s:  # a worker claimed it, then was killed (no heartbeat ever again)
        assert claims.claim(s, ident, worker="killed:1", lease_s=1.0) == "claimed"
    results: list = []
    _run(toy_registry, storage, tmp_path, results, lease_s=2.0)
    (summary,) = results
    assert summary.counts["done"] == 8
    with storage.transaction() as s:
        cell = repo.get_cell(s, first.config_hash)
        assert cell.status == "done" and cell.computations == 1
        events = [e.event for e in s.scalars(select(CellEvent).where(CellEvent.cell_id == cell.id).order_by(CellEvent.id))]
    assert events == ["claimed", "lost", "died", "claimed", "done"]
    assert cell.deaths == 0  # its outcome is stored: the count starts over


def _gone_worker() -> str:
    """A worker id of this host whose process has exited."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return f"{socket.gethostname()}:{proc.pid}:0abc"


def test_a_holder_whose_process_is_gone_is_taken_over_at_once_and_a_second_death_fails_the_cell(storage):
    key = _ident().config_hash
    with storage.transaction() as s:
        assert claims.claim(s, _ident(), worker=_gone_worker(), lease_s=600) == "claimed"
    with storage.transaction() as s:  # its lease has ten minutes left, but its pid is free: no wait
        assert claims.claim(s, _ident(), worker=_gone_worker(), lease_s=600) == "claimed"
        assert repo.get_cell(s, key).deaths == 1
    with storage.transaction() as s:  # the second holder died too: stored failed, not computed again
        assert claims.claim(s, _ident(), worker="c", lease_s=600) == "died"
        cell = repo.get_cell(s, key)
        assert cell.status == "failed" and cell.deaths == 2 and cell.worker is None
        assert cell.error.startswith("the process died: its process is gone") and "not retried without --force" in cell.error
    with storage.transaction() as s:
        assert claims.claim(s, _ident(), worker="d") == "died"  # nor on a later run
        assert repo.get_cell(s, key).deaths == 2
        assert claims.claim(s, _ident(), worker="d", force=True) == "claimed"  # --force tries again
        repo.save_done(s, key, {"attack.auc": 0.5})
        assert repo.get_cell(s, key).deaths == 0


def test_a_supervisor_records_the_exit_status_and_frees_the_cell_at_once(storage):
    from recsec.interrupts import exit_cause

    assert exit_cause(-9) == "signal 9 (SIGKILL)" and exit_cause(7) == "exit code 7" and exit_cause(-11) == "signal 11 (SIGSEGV)"
    key = _ident().config_hash
    with storage.transaction() as s:
        assert claims.claim(s, _ident(), worker="h:12:a", lease_s=600) == "claimed"
        assert claims.claim(s, _ident(2), worker="h:120:a", lease_s=600) == "claimed"  # another process's
    with storage.transaction() as s:
        ((cell, failed),) = claims.record_death(s, "h:12:", "exit code 7")
        assert not failed and cell.config_hash == key and cell.status == "pending" and cell.worker is None
    with storage.transaction() as s:
        assert claims.claim(s, _ident(), worker="h:13:b", lease_s=600) == "claimed"  # no lease to wait out
        ((cell, failed),) = claims.record_death(s, "h:13:", "signal 9 (SIGKILL)")
        assert failed and cell.status == "failed" and cell.deaths == 2
        assert cell.error.startswith("the process died: signal 9 (SIGKILL) (it died 2 times")
        assert repo.get_cell(s, _ident(2).config_hash).deaths == 0
    with storage.transaction() as s:
        died = [e.detail for e in s.scalars(select(CellEvent).where(CellEvent.event == "died").order_by(CellEvent.id))]
    assert died == ["exit code 7", "signal 9 (SIGKILL)"]


def test_a_takeover_that_came_first_gets_the_exit_status_the_supervisor_saw(storage):
    gone = _gone_worker()
    with storage.transaction() as s:
        claims.claim(s, _ident(), worker=gone, lease_s=600)
    with storage.transaction() as s:
        claims.claim(s, _ident(), worker="b", lease_s=600)
        assert claims.record_death(s, gone.rpartition(":")[0] + ":", "signal 9 (SIGKILL)") == []
    with storage.transaction() as s:
        assert [e.detail for e in s.scalars(select(CellEvent).where(CellEvent.event == "died"))] == ["signal 9 (SIGKILL)"]


def test_runs_whose_owner_stopped_are_marked_died(storage):
    with storage.transaction() as s:
        gone = repo.start_run(s, "b", worker=_gone_worker(), options={"lease_s": 600})
        alive = repo.start_run(s, "b", worker=claims.new_worker_id(), options={"lease_s": 600})
        silent = repo.start_run(s, "b", worker="elsewhere:1:x", options={"lease_s": 0.2})
        beating = repo.start_run(s, "b", worker="elsewhere:2:x", options={"lease_s": 0.2})
        ended = repo.start_run(s, "b", worker="elsewhere:3:x", options={"lease_s": 0.2})
        repo.finish_run(s, ended, "finished")
    time.sleep(0.4)
    with storage.transaction() as s:
        claims.heartbeat(s, "elsewhere:2:x", lease_s=0.2, run_id=beating)
        assert sorted(claims.mark_dead_runs(s)) == sorted([gone, silent])
        status = dict(s.execute(select(Run.id, Run.status)).all())
    assert status == {gone: "died", alive: "running", silent: "died", beating: "running", ended: "finished"}
