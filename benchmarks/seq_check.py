"""Train one sequential recommender on an S3-Rec style sequence file and report its quality.

Protocol (methods.md section 1): one-pass 5/5 filtering (a no-op on the
5-core S3-Rec Beauty file), leave-one-out, NDCG@10 / HR@10 on the test items
with 100 sampled negatives (validation and test use different streams) and
with full ranking (history masked). Early stopping on validation NDCG@10.

Example (reproduces a row of the Beauty table in benchmarks/RESULTS.md)::

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/seq_check.py \
        --data ../shared/data/amazon-beauty/Beauty.txt.gz --model sasrec --epochs 200 --seed 0

Prints one line per epoch and a final JSON record (also appended to --out).
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from pathlib import Path

import numpy as np


def read_sequences(path: Path):
    """``user item item ...`` per line (chronological) -> Interactions (timestamps = positions)."""
    from recsec.data import Interactions

    users, items, ts = [], [], []
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as f:
        for line in f:
            parts = line.split()
            if len(parts) < 2:
                continue
            seq = np.asarray(parts[1:], dtype=np.int64)
            users.append(np.full(len(seq), int(parts[0]), dtype=np.int64))
            items.append(seq)
            ts.append(np.arange(len(seq), dtype=np.int64))
    return Interactions.from_raw(np.concatenate(users), np.concatenate(items), timestamps=np.concatenate(ts),
                                 source={"file": str(path)})


def one_pass_filter(data, min_item: int = 5, min_user: int = 5):
    """Drop items with < min_item events, then users with < min_user remaining events, once (not a k-core)."""
    from recsec.data import Interactions

    keep = np.bincount(data.items, minlength=data.n_items)[data.items] >= min_item
    keep &= np.bincount(data.users[keep], minlength=data.n_users)[data.users] >= min_user
    sub = data.subset(keep)
    return Interactions.from_raw(data.raw_user_ids[sub.users], data.raw_item_ids[sub.items],
                                 timestamps=sub.timestamps, source=data.source)



def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/amazon-beauty/Beauty.txt.gz")
    ap.add_argument("--dataset", metavar="NAME[k=v]", help="read a dataset plugin instead of --data (e.g. ml-1m), "
                    "from --data-dir / $RECSEC_DATA_DIR, with its own preprocessing")
    ap.add_argument("--data-dir", help="data directory for --dataset (default: $RECSEC_DATA_DIR)")
    ap.add_argument("--model", required=True, choices=("sasrec", "bert4rec", "narm", "gru4rec"))
    ap.add_argument("--epochs", type=int, default=200, help="maximum epochs (early stopping may end sooner)")
    ap.add_argument("--patience", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="further model parameters")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    ap.add_argument("--out", type=Path, help="append the final JSON record to this file")
    ap.add_argument("--save", type=Path, help="write the trained checkpoint here")
    ap.add_argument("--work-dir", type=Path, default=Path("/tmp/recsec-seq-check"),
                    help="resumable training state (rerun the same command to resume a killed run)")
    args = ap.parse_args(argv)

    import torch

    from recsec.context import RunContext
    from recsec.data import leave_one_out
    from recsec.device import resolve_device
    from recsec.evaluation import evaluate_split
    from recsec.metrics import list_diversity
    from recsec.queries import Queries
    from recsec.params import parse_assignments
    from recsec.registry import load_registry

    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    if args.dataset:
        from recsec.dataset import DataContext

        dataset = load_registry().create("dataset", args.dataset)
        data = dataset.load(DataContext.from_env(args.data_dir, allow_download=False))
        counts = {"filtered": data.stats(), "source": {k: str(v) for k, v in data.source.items()}}
        data_name = dataset.instance_name
    else:
        raw = read_sequences(args.data)
        data = one_pass_filter(raw)
        counts = {"raw": raw.stats(), "filtered": data.stats()}
        data_name = args.data.name
    split = leave_one_out(data)
    counts.update({"train_events": len(split.train), "eval_users": len(split.test)})
    print(f"data {data_name}: {counts} ({time.perf_counter() - t0:.1f}s)", flush=True)

    params = {"max_epochs": args.epochs, "patience": args.patience}
    params.update(parse_assignments(args.set))
    rec = load_registry().create("recommender", args.model, **params)
    device = resolve_device(args.device)
    start = time.strftime("%H:%M:%S")
    ctx = RunContext(seed=args.seed, device=device, progress=sys.stderr.isatty(), work_dir=args.work_dir,
                     log=lambda m: print(f"[{time.strftime('%H:%M:%S')}] {m}", flush=True))
    print(f"[{start}] training {rec.instance_name} on {device} ({torch.get_num_threads()} threads)", flush=True)
    t1 = time.perf_counter()
    stats = rec.fit(split, ctx).stats
    fit_s = time.perf_counter() - t1
    if args.save:
        rec.save(args.save)

    t2 = time.perf_counter()
    sampled = evaluate_split(rec, split, "sampled", ks=(1, 5, 10, 20), seed=args.seed)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t3 = time.perf_counter()
    full = evaluate_split(rec, split, "full", ks=(1, 5, 10, 20), seed=args.seed)
    eval_s = time.perf_counter() - t2
    timing = {"sampled_eval_s": t3 - t2, "full_eval_s": time.perf_counter() - t3,
              "eval_rows": len(split.valid) + len(split.test)}
    top = rec.topk(Queries(split.test.histories, split.test.users), 10)
    record = {
        "model": rec.instance_name, "seed": args.seed, "data": data_name, "counts": counts,
        "device": str(device), "threads": torch.get_num_threads(), "fit_s": fit_s, "eval_s": eval_s, **timing, "train": stats,
        "test_sampled": sampled["test"], "test_full": full["test"],
        "valid_sampled": sampled["valid"], "valid_full": full["valid"],
        "diversity": list_diversity(top),
    }
    s, f = sampled["test"], full["test"]
    print(f"RESULT {args.model}: sampled NDCG@10 {s['ndcg@10']:.4f} HR@10 {s['hr@10']:.4f} | full NDCG@10 "
          f"{f['ndcg@10']:.4f} HR@10 {f['hr@10']:.4f} | epochs {stats['epochs']:.0f} (best {stats['best_epoch']:.0f}), "
          f"{stats['epoch_s']:.1f}s/epoch train + {stats['valid_s']:.1f}s valid", flush=True)
    print(json.dumps(record), flush=True)
    if args.out:
        with open(args.out, "a") as fh:
            fh.write(json.dumps(record) + "\n")
    return record


if __name__ == "__main__":
    main()
