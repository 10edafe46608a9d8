"""Every random source derives from the cell's seed (methods.md section 7: the DFME reference
code's loaders are unseeded): the same cell run in two fresh processes stores the same numbers.

The two runs use different PYTHONHASHSEED values, so a result that depended on set or dict
iteration order over strings, or on anything else the process picks at start-up, would differ.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SPEC = """
datasets = ["synthetic[n_users=300,n_items=200,mean_events=20.0]"]
recommenders = ["bert4rec[hidden=32,max_len=20,n_blocks=1,max_epochs=2,patience=0]"]
defenses = ["none", "gro[k=50]"]

[benchmark]
name = "reproducibility"
seeds = [3]

[[attacks]]
name = "dfme-autoregressive"
params = { n_sequences = 12, seq_len = 6, gen_batch = 6, epochs = 2 }

[judge]
eval_users = 30
"""


def _run_in_fresh_process(spec: Path, work: Path, hash_seed: str) -> list[dict]:
    # every core torch finds (two in CI): multi-threaded kernels must not change the numbers either
    env = {**{k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}, "PYTHONHASHSEED": hash_seed}
    work.mkdir()
    db = f"sqlite:///{work / 'results.db'}"
    cli = [sys.executable, "-m", "recsec.cli"]
    run = subprocess.run([*cli, "run", str(spec), "--db", db, "--artifacts", str(work / "artifacts"), "--no-progress"],
                         env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    out = subprocess.run([*cli, "results", "--db", db, "--format", "json"], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout)


def _numbers(rows: list[dict]) -> dict[str, dict[str, float]]:
    """Per cell, every stored metric except measured durations and memory (``_s``, ``_mb``)."""
    return {
        row["defense"]: {k: v for k, v in row.items() if isinstance(v, float) and not k.endswith(("_s", "_mb"))}
        for row in rows
    }


def test_a_cell_gives_the_same_numbers_in_two_fresh_processes(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    a = _numbers(_run_in_fresh_process(spec, tmp_path / "a", "1"))
    b = _numbers(_run_in_fresh_process(spec, tmp_path / "b", "2"))
    assert set(a) == {"none", "gro[k=50]"}
    for cell in a:
        # the cell trained, attacked and scored something (not an empty row compared with itself)
        assert {"utility.hr@10", "attack.agr@10", "victim.best_valid_ndcg@10"} <= set(a[cell]), cell
        assert a[cell] == b[cell], cell
