"""Resident memory after every epoch of one victim's training: is a growing peak a leak?

Trains the plain BERT4Rec victim of ``defense-ml100k-cpu.toml`` (MovieLens 100K, ML-1M
reference configuration) and prints each epoch's line with the process's current RSS and its
high-water mark. ``--trim`` also calls glibc's ``malloc_trim(0)`` after each epoch and prints
the RSS after it: if that falls back to the starting level, the growth is freed memory the
allocator kept (fragmentation), not live objects. Run it with ``MALLOC_MMAP_THRESHOLD_=131072``
to see the peak when every large block goes back to the system when freed.

    OMP_NUM_THREADS=1 python benchmarks/rss_per_epoch.py --data-dir ../shared/data --epochs 15 --trim
"""

from __future__ import annotations

import argparse
import ctypes
from pathlib import Path

import torch

from recsec.context import RunContext
from recsec.data import leave_one_out
from recsec.dataset import DataContext
from recsec.registry import default_registry


def rss_line() -> str:
    fields = [line.split(":")[0] + " " + line.split()[1] + " kB"
              for line in Path("/proc/self/status").read_text().splitlines() if line.startswith(("VmRSS", "VmHWM"))]
    return ", ".join(fields)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--trim", action="store_true", help="malloc_trim(0) after every epoch")
    args = ap.parse_args()
    reg = default_registry()
    data = reg.create("dataset", "ml-100k", min_item_count=5, min_user_count=5).load(
        DataContext.from_env(args.data_dir, allow_download=False, progress=False))
    rec = reg.create("recommender", "bert4rec", max_len=200, dropout=0.1, attn_dropout=0.1, mask_prob=0.2,
                     max_predictions=40, max_epochs=args.epochs, patience=0)
    libc = ctypes.CDLL("libc.so.6") if args.trim else None
    print(f"before training: {rss_line()}", flush=True)

    def log(msg: str) -> None:
        print(f"{msg}  |  {rss_line()}", flush=True)
        if libc is not None:
            libc.malloc_trim(0)
            print(f"    after malloc_trim: {rss_line()}", flush=True)

    rec.fit(leave_one_out(data), RunContext(seed=0, device=torch.device("cpu"), log=log))


if __name__ == "__main__":
    main()
