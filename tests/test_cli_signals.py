"""``recsec run`` stopped by a signal, as a scheduler (SIGTERM) or a user (SIGINT to a
background job, which a shell starts with SIGINT ignored) stops it: the cell goes back to
"pending", the run is stored as "interrupted", and the exit status says so."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

SPEC = """
datasets = ["synthetic[n_users=200,n_items=100,mean_events=15.0]"]
recommenders = ["sasrec[hidden=16,max_len=10,n_blocks=1,max_epochs=100000,patience=0]"]
attacks = ["dfme-random[n_sequences=10,seq_len=5,epochs=2]"]
defenses = ["none"]

[benchmark]
name = "signals"
seeds = [0]
"""


def _ignore_sigint() -> None:  # what `cmd &` in a non-interactive shell does to the child
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_run_like_ctrl_c(tmp_path, signum):
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    db = f"sqlite:///{tmp_path / 'results.db'}"
    cli = [sys.executable, "-m", "recsec.cli"]
    proc = subprocess.Popen([*cli, "run", str(spec), "--db", db, "--artifacts", str(tmp_path / "art"), "--no-progress", "-v"],
                            stderr=subprocess.PIPE, text=True, preexec_fn=_ignore_sigint)
    try:
        seen = []
        for line in proc.stderr:  # wait until the victim is training
            seen.append(line)
            if "epoch 2" in line:
                break
        else:
            pytest.fail("the run ended before training: " + "".join(seen)[-2000:])
        proc.send_signal(signum)
        assert proc.wait(timeout=120) == 130
    finally:
        proc.kill()  # a run that ignored the signal would train 100,000 epochs
    rest = proc.stderr.read()
    assert "re-run the same command to resume" in rest

    out = subprocess.run([*cli, "results", "--db", db, "--format", "json"], capture_output=True, text=True, timeout=120)
    rows = json.loads(out.stdout)
    assert [r["status"] for r in rows] == ["pending"]
    from sqlalchemy import select

    from recsec.storage.db import Storage
    from recsec.storage.models import Run

    with Storage(db).transaction() as s:
        assert [r.status for r in s.scalars(select(Run))] == ["interrupted"]
