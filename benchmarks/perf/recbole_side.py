"""RecBole 1.2.1 half of ``sasrec_vs_recbole.py``; runs inside RecBole's own virtual environment.

Reads ``<data-dir>/beauty/beauty.inter`` (written by the driver), trains
RecBole's SASRec (loss BPR, one uniform negative per example) for at most one
epoch, capped at ``--train-cap-s`` seconds, then times full-ranking evaluation
over every test user (median of ``--repeats`` passes) and ``uni100`` evaluation over the test users that fit in
``--uni100-cap-s`` seconds. Prints one JSON line (prefixed ``RECBOLE_JSON``).

Only RecBole's public classes and ``Trainer._train_epoch`` / ``Trainer.evaluate``
are called; the capped runs feed them a proxy of the stock data loader that
stops yielding batches once the time cap has passed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from typing import Any, Iterator

os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")


class Capped:
    """Proxy of a RecBole data loader that stops yielding after ``cap_s`` seconds (counts what it yielded)."""

    def __init__(self, loader: Any, cap_s: float) -> None:
        self.loader, self.cap_s = loader, cap_s
        self.batches = self.rows = self.users = 0
        self.exhausted = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.loader, name)

    def __len__(self) -> int:
        return len(self.loader)

    def __bool__(self) -> bool:
        return True

    def __iter__(self) -> Iterator[Any]:
        t0 = time.perf_counter()
        it = iter(self.loader)
        while not self.batches or time.perf_counter() - t0 <= self.cap_s:  # check before fetching a batch
            batch = next(it, None)
            if batch is None:
                self.exhausted = True
                return
            self.batches += 1
            if isinstance(batch, tuple):  # evaluation batch: (interaction, row_idx, positive_u, positive_i)
                self.users += int(batch[2][-1]) + 1
            else:
                self.rows += len(batch)
            yield batch


def config_dict(args: argparse.Namespace, mode: str) -> dict[str, Any]:
    return {
        "data_path": args.data_dir, "dataset": "beauty", "checkpoint_dir": os.path.join(args.data_dir, "saved"),
        "USER_ID_FIELD": "user_id", "ITEM_ID_FIELD": "item_id", "TIME_FIELD": "timestamp",
        "load_col": {"inter": ["user_id", "item_id", "timestamp"]},
        "user_inter_num_interval": "[0,inf)", "item_inter_num_interval": "[0,inf)",
        "MAX_ITEM_LIST_LENGTH": 50, "hidden_size": 64, "n_layers": 2, "n_heads": 2, "inner_size": 256,
        "hidden_dropout_prob": 0.5, "attn_dropout_prob": 0.2, "loss_type": "BPR",
        "train_neg_sample_args": {"distribution": "uniform", "sample_num": 1, "alpha": 1.0, "dynamic": False,
                                  "candidate_num": 0},
        "train_batch_size": 128, "learning_rate": 0.001, "epochs": 1, "eval_step": 1,
        "eval_args": {"split": {"LS": "valid_and_test"}, "order": "TO", "group_by": "user", "mode": mode},
        "metrics": ["NDCG", "Hit"], "topk": [10], "valid_metric": "NDCG@10",
        "use_gpu": False, "gpu_id": "", "seed": args.seed, "reproducibility": True, "show_progress": False,
        "state": "WARNING", "worker": 0,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--train-cap-s", type=float, default=600.0)
    ap.add_argument("--uni100-cap-s", type=float, default=120.0)
    ap.add_argument("--repeats", type=int, default=3, help="full-ranking passes (the median is reported)")
    args = ap.parse_args()
    sys.argv = sys.argv[:1]  # RecBole's Config also parses the command line

    import recbole
    import torch
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.model.sequential_recommender import SASRec
    from recbole.trainer import Trainer
    from recbole.utils import init_seed

    out: dict[str, Any] = {"version": recbole.__version__, "torch": torch.__version__, "loss": "BPR, 1 uniform negative"}
    cfg = Config(model="SASRec", config_dict=config_dict(args, "full"))
    init_seed(cfg["seed"], cfg["reproducibility"])
    torch.set_num_threads(args.threads)
    out["threads"] = torch.get_num_threads()
    t = time.perf_counter()
    train, _valid, test = data_preparation(cfg, create_dataset(cfg))
    out["prep_s"] = time.perf_counter() - t
    model = SASRec(cfg, train._dataset)
    trainer = Trainer(cfg, model)

    capped = Capped(train, args.train_cap_s)
    t, c = time.perf_counter(), time.process_time()
    trainer._train_epoch(capped, 0, show_progress=False)
    train_s = time.perf_counter() - t
    busy = (time.process_time() - c) / train_s
    out["train"] = {"seconds": train_s, "targets": capped.rows, "batches": capped.batches,
                    "examples_per_epoch": len(train._dataset), "full_epoch": capped.exhausted,
                    "cores_busy": busy}

    times, c = [], time.process_time()
    for _ in range(args.repeats):
        t = time.perf_counter()
        res = trainer.evaluate(test, load_best_model=False, show_progress=False)
        times.append(time.perf_counter() - t)
    out["full"] = {"seconds": statistics.median(times), "runs_s": times, "users": len(test._dataset),
                   "cores_busy": (time.process_time() - c) / sum(times),
                   "metrics": dict(res)}

    cfg2 = Config(model="SASRec", config_dict=config_dict(args, "uni100"))
    init_seed(cfg2["seed"], cfg2["reproducibility"])
    torch.set_num_threads(args.threads)
    t = time.perf_counter()
    _train2, _valid2, test2 = data_preparation(cfg2, create_dataset(cfg2))
    out["prep_uni100_s"] = time.perf_counter() - t
    trainer2 = Trainer(cfg2, model)  # the same trained weights (token ids are assigned identically)
    capped2 = Capped(test2, args.uni100_cap_s)
    t, c = time.perf_counter(), time.process_time()
    res2 = trainer2.evaluate(capped2, load_best_model=False, show_progress=False)
    uni_s = time.perf_counter() - t
    out["uni100"] = {"seconds": uni_s, "cores_busy": (time.process_time() - c) / uni_s, "users": capped2.users, "all_users": len(test2.uid_list),
                     "complete": capped2.exhausted, "metrics_on_subset": dict(res2)}
    print("RECBOLE_JSON " + json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
