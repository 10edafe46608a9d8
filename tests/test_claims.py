"""Claims with leases: the database decides who computes a cell; dead workers' cells are taken over."""

from __future__ import annotations

import threading
import time

from sqlalchemy import select

from recsec.runner import RunOptions, Runner
from recsec.spec import parse_spec
from recsec.storage import claims
from recsec.storage import repository as repo
from recsec.storage.models import CellEvent

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
    assert _events(storage) == [("claimed", "a"), ("lost", "a"), ("claimed", "b")]
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
    ident = repo.CellIdentity(**{k: v for k, v in cells._identity(first, None).items() if k != "run_id"})
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
    assert events == ["claimed", "lost", "claimed", "done"]
