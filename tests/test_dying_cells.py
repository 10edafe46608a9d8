"""Cells that end their process (SIGKILL as the OOM killer sends it, ``os._exit``): each death is
counted on the cell, the second stores it failed with the exit status and the matrix goes on;
run rows end finished, interrupted or died; a plugin's own KeyboardInterrupt fails its cell only."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import select

from conftest import THIRDPARTY, _write_dist
from recsec.storage import repository as repo
from recsec.storage.db import Storage
from recsec.storage.models import CellEvent, Run

SPEC = """
datasets = ["toy-data"]
recommenders = ["dying-popular[mode=MODE]", "toy-popular"]
attacks = ["toy-probe"]
defenses = ["none"]

[benchmark]
name = "dying"
seeds = [0]
"""


@pytest.fixture
def dying_plugins(tmp_path, monkeypatch):
    """The toy and the dying plugins as installed distributions (entry points), seen by this
    process's default registry and by the `recsec` processes the tests start."""
    import recsec.registry

    site = tmp_path / "site"
    _write_dist(site, "recsec-toy", "0.3", {"toy": "recsec_toy_plugin"})
    _write_dist(site, "recsec-dying", "1.0", {"dying": "recsec_dying_plugin"})
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.syspath_prepend(str(THIRDPARTY))
    monkeypatch.setattr(recsec.registry, "_DEFAULT", None)
    monkeypatch.setenv("RECSEC_ISOLATE", "0")  # the attacker's own process would only slow these tests down
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(THIRDPARTY), os.environ.get("PYTHONPATH", "")])}


def _recsec_run(tmp_path, env, mode: str) -> subprocess.CompletedProcess:
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC.replace("MODE", mode))
    argv = [sys.executable, "-m", "recsec.cli", "run", str(spec), "--db", f"sqlite:///{tmp_path / 'r.db'}",
            "--artifacts", str(tmp_path / "art"), "--no-progress"]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)


def _state(storage):
    with storage.transaction() as s:
        cells = {c.recommender: (c.status, c.deaths, c.error) for c in repo.list_cells(s)}
        runs = [r.status for r in s.scalars(select(Run).order_by(Run.id))]
        died = [e.detail for e in s.scalars(select(CellEvent).where(CellEvent.event == "died").order_by(CellEvent.id))]
    return cells, runs, died


@pytest.mark.slow
def test_a_cell_that_kills_its_process_twice_is_failed_and_the_matrix_goes_on(tmp_path, dying_plugins):
    """`recsec run` computes in a child it watches: SIGKILLed twice on one cell (as the OOM killer
    does), it stores that cell failed with the signal, finishes the other cell and the run."""
    done = _recsec_run(tmp_path, dying_plugins, "kill")
    assert done.returncode == 1, done.stderr[-3000:]  # one failed cell, not a dead `recsec`
    assert "1 done" in done.stderr and "1 failed" in done.stderr, done.stderr[-3000:]
    assert "the process died: signal 9 (SIGKILL)" in done.stderr
    storage = Storage(f"sqlite:///{tmp_path / 'r.db'}")
    cells, runs, died = _state(storage)
    state, deaths, error = cells["dying-popular[mode=kill]"]
    assert state == "failed" and deaths == 2 and error.startswith("the process died: signal 9 (SIGKILL)")
    assert cells["toy-popular"][0] == "done"
    assert died == ["signal 9 (SIGKILL)"] * 2 and runs == ["finished"]

    # a resume goes on without dying on it again (here in this process: it would die with it)
    from recsec.registry import default_registry
    from recsec.runner import RunOptions, Runner
    from recsec.spec import parse_spec

    spec = parse_spec(SPEC.replace("MODE", "kill"), default_registry(), "spec.toml")
    again = Runner(spec, storage, RunOptions(device="cpu", artifacts_dir=tmp_path / "art", log=lambda m: None)).run()
    assert again.counts == {"done": 0, "cached": 1, "failed": 1, "skipped": 0}
    cells, runs, died = _state(storage)
    assert cells["dying-popular[mode=kill]"][:2] == ("failed", 2) and len(died) == 2 and runs == ["finished"] * 2
    storage.dispose()


def test_a_components_keyboard_interrupt_fails_its_cell_and_the_matrix_goes_on(dying_plugins, storage, tmp_path):
    from recsec.registry import default_registry
    from recsec.runner import RunOptions, Runner
    from recsec.spec import parse_spec

    spec = parse_spec(SPEC.replace("MODE", "interrupt"), default_registry(), "dying.toml")
    summary = Runner(spec, storage, RunOptions(device="cpu", artifacts_dir=tmp_path / "a", log=lambda m: None)).run()
    assert summary.counts["failed"] == 1 and summary.counts["done"] == 1
    with storage.transaction() as s:
        cells = {c.recommender: c for c in repo.list_cells(s)}
        assert s.scalars(select(Run.status)).all() == ["finished"]
    bad = cells["dying-popular[mode=interrupt]"]
    assert bad.status == "failed" and "KeyboardInterrupt raised by a component" in bad.error
    assert "recsec_dying_plugin.py" in bad.traceback
