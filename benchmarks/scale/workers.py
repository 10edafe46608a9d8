"""Scale-out on one machine: the same matrix with 1 and with 2 Dask workers, wall times and their ratio.

    python benchmarks/scale/workers.py                      # benchmarks/scale/scale-synthetic.toml
    python benchmarks/scale/workers.py --workers 1 2 4 --spec SPEC --json out.json

Each configuration runs ``recsec run SPEC --workers N`` in a fresh process, database and
artifacts folder (nothing is reused between them), one after the other, and the script
checks that every run computed every cell once and that the judged metrics agree across
worker counts. Each worker uses ``--threads`` torch threads (default 1: a worker is one core,
and one thread count for every configuration keeps the numbers bit-identical).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
JUDGED = ("attack.agr@10", "attack.holdout_agr@10", "utility.hr@10", "defended.hr@10")


def run(spec: Path, workers: int, work: Path, threads: int) -> dict:
    db = work / f"w{workers}.db"
    cmd = [sys.executable, "-m", "recsec.cli", "run", str(spec), "--db", f"sqlite:///{db}", "--workers", str(workers),
           "--artifacts", str(work / f"artifacts-{workers}"), "--no-progress", "-q", "--threads-per-worker", str(threads)]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr}")
    con = sqlite3.connect(db)
    rows = con.execute("select config_hash, status, computations, metrics from recsec_cells").fetchall()
    metrics = {h: {k: v for k, v in json.loads(m).items() if k in JUDGED} for h, _, _, m in rows}
    return {"workers": workers, "wall_s": wall, "cells": len(rows),
            "computed_once": all(s in ("done", "skipped") and (c == 1 or s == "skipped") for _, s, c, _ in rows),
            "metrics": metrics}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spec", type=Path, default=HERE / "scale-synthetic.toml")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--threads", type=int, default=1, help="torch threads per worker: one core per worker slot")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="recsec-scale-"))
    results = [run(args.spec, n, work, args.threads) for n in args.workers]
    base = results[0]
    for r in results:
        r["speedup"] = base["wall_s"] / r["wall_s"]
        r["same_metrics"] = r["metrics"] == base["metrics"]
        print(f"{r['workers']} worker(s): {r['wall_s']:.1f} s, {r['cells']} cells, each computed once: "
              f"{r['computed_once']}, metrics equal to {base['workers']} worker(s): {r['same_metrics']}, "
              f"speed-up x{r['speedup']:.2f}")
    summary = {"spec": str(args.spec), "cpu_count": os.cpu_count(), "threads_per_worker": args.threads,
               "runs": [{k: v for k, v in r.items() if k != "metrics"} for r in results]}
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1))
    shutil.rmtree(work, ignore_errors=True)
    return summary


if __name__ == "__main__":
    main()
