"""Throughput of recsec's SASRec against RecBole 1.2.1's SASRec on Amazon Beauty (CPU, same machine).

What is compared (same data, same split, same architecture sizes, same torch
thread count, the two sides run one after the other, never concurrently):

1. Training throughput: recsec over ``--epochs`` epochs (a few seconds each),
   RecBole over one epoch (time-capped at ``--recbole-train-cap-s``).
   recsec trains on one left-padded window of at most 51 items per user
   (longer histories give overlapping windows) and puts a loss term at every
   position: binary cross-entropy against the next item and one uniform
   negative. RecBole trains on every prefix of every training sequence
   (131,413 examples on Beauty) with a loss at the last position only; its
   closest loss is BPR with one uniform negative, used here. A "target" is
   one next-item prediction with one negative in both libraries, so
   *targets per second* is the fair work rate; *sequences per second*
   (recsec windows vs RecBole prefixes) is reported too, but a recsec window
   carries up to 50 targets and a RecBole prefix exactly one.
2. Full-ranking evaluation over every test user (all items scored, history
   masked): users per second, median of ``--repeats`` passes on each side.
3. Sampled evaluation with 100 negatives: users per second (recsec: median
   of ``--repeats`` passes, negative sampling included). RecBole's
   ``uni100`` runs the encoder once per (user, candidate) row, so it is timed
   on the test users that fit in ``--uni100-cap-s`` seconds and the rate is
   extrapolated to all test users (the record says so).

Both sides use MAX_ITEM_LIST_LENGTH / max_len 50, hidden 64, 2 blocks, 2 heads,
inner size 256, dropout 0.5, attention dropout 0.2, batch 128, learning rate
1e-3, leave-one-out split by position (the data file is chronological).
Remaining differences (each library's own choice, not tuned here): recsec uses
pre-LN blocks with ReLU, AdamW (weight decay 0.01) and gradient clipping;
RecBole uses post-LN blocks with GELU and Adam without clipping.

RecBole is installed into its own virtual environment (``--recbole-venv``,
reused when present) with the pins from shared/reference/peers.md, and runs
``recbole_side.py`` there. Derived files (``beauty.inter``) go under
``--work-dir`` in /tmp, never into the repository.

Example (about 10 minutes on 2 CPU cores)::

    nice -n 10 .venv/bin/python benchmarks/perf/sasrec_vs_recbole.py \\
        --data ../shared/data/amazon-beauty/Beauty.txt.gz --out /tmp/recsec-perf/result.json
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads its OpenMP runtime

HERE = Path(__file__).resolve().parent
RECBOLE_PINS = ["recbole==1.2.1", "setuptools<81", "numpy<2", "pandas<2.3"]


def ensure_recbole_venv(venv: Path) -> Path:
    """Create ``venv`` with torch 2.13.0 (CPU) and RecBole 1.2.1 unless it already imports recbole."""
    py = venv / "bin" / "python"
    if py.exists() and subprocess.run([str(py), "-c", "import recbole"], capture_output=True).returncode == 0:
        return py
    print(f"installing RecBole 1.2.1 into {venv}", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(py), "-m", "pip", "install", "-q"]
    subprocess.run(pip + ["torch==2.13.0"], check=True)
    constraints = venv / "constraints.txt"
    constraints.write_text("torch==2.13.0+cpu\n")
    subprocess.run(pip + ["-c", str(constraints)] + RECBOLE_PINS, check=True)
    return py


def write_inter(data: Path, work_dir: Path) -> Path:
    """RecBole atomic file ``<work_dir>/beauty/beauty.inter``; timestamp = position in the user's sequence."""
    path = work_dir / "beauty" / "beauty.inter"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with gzip.open(data, "rt") as f, open(tmp, "w") as out:
        out.write("user_id:token\titem_id:token\ttimestamp:float\n")
        for line in f:
            user, *items = line.split()
            out.writelines(f"{user}\t{item}\t{i}\n" for i, item in enumerate(items))
    tmp.replace(path)
    return path


def run_recsec(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    sys.path.insert(0, str(HERE.parent))
    from seq_check import read_sequences  # the S3-Rec file reader used by the quality benchmarks

    from recsec.context import RunContext
    from recsec.data import leave_one_out
    from recsec.evaluation import evaluate_split
    from recsec.plugins.sequential.windows import build_windows
    from recsec.registry import load_registry

    torch.set_num_threads(args.threads)
    split = leave_one_out(read_sequences(args.data))
    rec = load_registry().create("recommender", "sasrec", max_epochs=args.epochs, patience=0)
    ctx = RunContext(seed=args.seed, device=torch.device("cpu"))
    t, c = time.perf_counter(), time.process_time()
    stats = rec.fit(split, ctx).stats
    fit_s, fit_cpu = time.perf_counter() - t, time.process_time() - c
    p = rec.param_values
    windows = build_windows(split.train.sequences(), rec.net.window, max(1, int(round(p["window_step"] * p["max_len"]))))
    targets_per_epoch = int(((windows.tokens > 0).sum(1) - 1).sum())
    epoch_s = [row["epoch_s"] for row in rec.train_history]
    out: dict[str, Any] = {
        "threads": torch.get_num_threads(), "loss": "BCE, 1 uniform negative per position",
        "train": {"seconds": sum(epoch_s), "epochs": len(epoch_s), "targets": targets_per_epoch * len(epoch_s),
                  "sequences": len(windows) * len(epoch_s), "fit_wall_s": fit_s,
                  "fit_cores_busy": fit_cpu / fit_s,
                  "valid_s_per_epoch": stats["valid_s"]},
    }
    for mode in ("full", "sampled"):
        times, c = [], time.process_time()
        for _ in range(args.repeats):
            t = time.perf_counter()
            res = evaluate_split(rec, split, mode, ks=(10,), seed=args.seed, which=("test",))
            times.append(time.perf_counter() - t)
        out[mode] = {"seconds": statistics.median(times), "runs_s": times, "users": len(split.test),
                     "cores_busy": (time.process_time() - c) / sum(times), "metrics": res["test"]}
    return out


def run_recbole(args: argparse.Namespace, py: Path) -> dict[str, Any]:
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}
    cmd = [str(py), str(HERE / "recbole_side.py"), "--data-dir", str(args.work_dir), "--threads", str(args.threads),
           "--seed", str(args.seed), "--train-cap-s", str(args.recbole_train_cap_s),
           "--uni100-cap-s", str(args.uni100_cap_s), "--repeats", str(args.repeats)]
    log = args.work_dir / "recbole.log"
    with open(log, "w") as fh:
        # cwd: RecBole's Trainer writes a log_tensorboard/ folder into the working directory
        proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=fh, text=True, cwd=args.work_dir)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RECBOLE_JSON ")]
    if proc.returncode or not lines:
        raise RuntimeError(f"recbole_side.py failed (rc {proc.returncode}); see {log}")
    return json.loads(lines[-1].split(" ", 1)[1])


def table(ours: dict[str, Any], theirs: dict[str, Any]) -> tuple[str, dict[str, float]]:
    """Markdown table of both sides' rates and the recsec/RecBole ratios (> 1: recsec faster).

    "cores busy" is process CPU time / wall time of the timed block (recsec's
    training: of the whole fit, validation included); well under the thread
    count means other processes took the cores.
    """
    rb_train = theirs["train"]
    rb_uni = theirs["uni100"]
    busy = [(ours["train"].get("fit_cores_busy"), rb_train.get("cores_busy"))] * 2 + [
        (ours["full"].get("cores_busy"), theirs["full"].get("cores_busy")),
        (ours["sampled"].get("cores_busy"), rb_uni.get("cores_busy"))]
    rows = [
        ("train targets/s", ours["train"]["targets"] / ours["train"]["seconds"], rb_train["targets"] / rb_train["seconds"]),
        ("train sequences/s (window vs prefix)", ours["train"]["sequences"] / ours["train"]["seconds"],
         rb_train["targets"] / rb_train["seconds"]),
        ("full-ranking eval users/s", ours["full"]["users"] / ours["full"]["seconds"],
         theirs["full"]["users"] / theirs["full"]["seconds"]),
        ("sampled (100 neg) eval users/s", ours["sampled"]["users"] / ours["sampled"]["seconds"],
         rb_uni["users"] / rb_uni["seconds"]),
    ]
    ratios = {name: a / b for name, a, b in rows}
    fmt = lambda x: "?" if x is None else f"{x:.2f}"  # noqa: E731
    lines = ["| measure | recsec | RecBole 1.2.1 | recsec / RecBole | cores busy (recsec / RecBole) |",
             "|---|---:|---:|---:|---:|"]
    lines += [f"| {name} | {a:,.0f} | {b:,.1f} | {a / b:.1f}x | {fmt(u)} / {fmt(v)} |"
              for (name, a, b), (u, v) in zip(rows, busy)]
    rb_epoch = rb_train["examples_per_epoch"] / (rb_train["targets"] / rb_train["seconds"])
    rb_uni_all = rb_uni["all_users"] / (rb_uni["users"] / rb_uni["seconds"])
    lines += [
        "",
        f"- recsec: {ours['train']['targets']:,} targets in {ours['train']['sequences']:,} windows, "
        f"{ours['train']['seconds']:.1f} s train ({ours['train']['epochs']} epochs); full eval {ours['full']['seconds']:.1f} s, "
        f"sampled eval {ours['sampled']['seconds']:.1f} s for {ours['full']['users']:,} test users.",
        f"- RecBole: {rb_train['targets']:,} of {rb_train['examples_per_epoch']:,} prefixes in {rb_train['seconds']:.1f} s "
        f"({'full epoch' if rb_train['full_epoch'] else f'time-capped; full epoch extrapolated {rb_epoch:.0f} s'}); "
        f"full eval {theirs['full']['seconds']:.1f} s for {theirs['full']['users']:,} users; uni100 "
        f"{rb_uni['users']:,} of {rb_uni['all_users']:,} users in {rb_uni['seconds']:.1f} s"
        f"{'' if rb_uni['complete'] else f' (extrapolated to all users: {rb_uni_all:.0f} s)'}.",
    ]
    return "\n".join(lines), ratios


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=HERE.parents[2] / "shared/data/amazon-beauty/Beauty.txt.gz")
    ap.add_argument("--work-dir", type=Path, default=Path("/tmp/recsec-perf"), help="derived files (beauty.inter, logs)")
    ap.add_argument("--recbole-venv", type=Path, default=Path("/tmp/recbole-venv"))
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads on both sides")
    ap.add_argument("--epochs", type=int, default=3, help="recsec training epochs (RecBole: one, maybe capped)")
    ap.add_argument("--repeats", type=int, default=3, help="full-ranking (both) and recsec sampled passes; median")
    ap.add_argument("--recbole-train-cap-s", type=float, default=600.0, help="stop RecBole's epoch after this long")
    ap.add_argument("--uni100-cap-s", type=float, default=180.0, help="time RecBole's uni100 on the users done by then")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, help="write the JSON record here")
    args = ap.parse_args(argv)
    args.work_dir = args.work_dir.resolve()
    args.work_dir.mkdir(parents=True, exist_ok=True)

    py = ensure_recbole_venv(args.recbole_venv)
    write_inter(args.data, args.work_dir)
    load = os.getloadavg()
    t = time.perf_counter()
    print(f"[{time.strftime('%H:%M:%S')}] recsec SASRec ({args.threads} threads, load {load[0]:.2f})", flush=True)
    ours = run_recsec(args)
    print(f"[{time.strftime('%H:%M:%S')}] recsec: {json.dumps(ours)}", flush=True)
    print(f"[{time.strftime('%H:%M:%S')}] RecBole SASRec (load {os.getloadavg()[0]:.2f})", flush=True)
    theirs = run_recbole(args, py)
    print(f"[{time.strftime('%H:%M:%S')}] RecBole: {json.dumps(theirs)}", flush=True)
    md, ratios = table(ours, theirs)
    record = {
        "benchmark": "sasrec_vs_recbole", "data": args.data.name, "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "load_before": load, "load_after": os.getloadavg(), "omp_wait_policy": os.environ["OMP_WAIT_POLICY"],
                    "note": "shared machine: other jobs may have run at the same time"},
        "args": {k: str(v) for k, v in vars(args).items()}, "wall_s": time.perf_counter() - t,
        "recsec": ours, "recbole": theirs, "ratios_recsec_over_recbole": ratios, "table": md,
    }
    print(md, flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(record, indent=1))
    print(json.dumps(record), flush=True)
    return record


if __name__ == "__main__":
    main()
