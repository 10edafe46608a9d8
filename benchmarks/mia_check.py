"""Membership inference against LFM on MovieLens latest-small: the numbers behind the mia-zhang plugin.

Emulates the runner's sequence for each cell (split -> train victim ->
defense.prepare -> BlackBoxAPI(**attack.serving()) -> attack.run), with the
same seed derivation, and prints mean +- std of the attack metrics over seeds
for each setting. The victim is trained once per (recommender, seed) and
shared by the settings, as the runner's victim cache does.

    .venv/bin/python benchmarks/mia_check.py                       # LFM, 3 seeds, all settings
    .venv/bin/python benchmarks/mia_check.py --recommender itemcf --settings none/popular
    .venv/bin/python benchmarks/mia_check.py --json results.json

Measured (ml-latest-small, LFM dim 100 / lr 0.01 / reg 0.01 / 30 epochs, seeds 0 1 2, CPU, one
thread; ROC AUC mean +- std; 203 target users per seed):
    none/popular                              0.997 +- 0.002
    popularity-randomization/popular          0.370 +- 0.042   (non-adaptive attacker)
    popularity-randomization/popular/adaptive 0.777 +- 0.008
    list-shuffle/popular                      0.978 +- 0.009
    none/foldin                               0.620 +- 0.025   (0.819 +- 0.019 with --rec-param epochs=100)

Data: ``ml-latest-small/ratings.csv[.gz]`` under ``--data-dir`` (default
../shared/data, else $RECSEC_DATA_DIR), read by the ``ml-latest-small``
dataset plugin.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from recsec.blackbox import BlackBoxAPI
from recsec.context import AttackContext, RunContext
from recsec.data import EvalSet, Interactions
from recsec.metrics import list_diversity, ranking_metrics
from recsec.queries import Queries
from recsec.seeding import derive_seed

#: setting name -> (defense name, defense params, attack params)
SETTINGS: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "none/popular": ("none", {}, {"nonmember_lists": "popular"}),
    "popularity-randomization/popular": ("popularity-randomization", {}, {"nonmember_lists": "popular"}),
    "popularity-randomization/popular/adaptive": ("popularity-randomization", {}, {"nonmember_lists": "popular", "adaptive": True}),
    "list-shuffle/popular": ("list-shuffle", {}, {"nonmember_lists": "popular"}),
    "none/foldin": ("none", {}, {"nonmember_lists": "foldin"}),
}

#: Victim hyperparameters used for the reported numbers (Hu: lr 0.01, reg 0.01).
RECOMMENDERS: dict[str, dict[str, Any]] = {
    "lfm": {"dim": 100, "lr": 0.01, "reg": 0.01, "epochs": 30},
    "itemcf": {},
    "popular": {},
}


def load_data(data_dir: Path) -> Interactions:
    from recsec.dataset import DataContext
    from recsec.plugins.datasets.movielens import MovieLensLatestSmall

    ctx = DataContext(data_dir, Path(os.environ.get("RECSEC_CACHE_DIR", "/tmp/recsec-cache")), allow_download=False)
    return MovieLensLatestSmall().load(ctx)


def component(kind: str, name: str, **params: Any):
    from recsec.registry import load_registry

    return load_registry().components[kind][name](**params)


def utility(victim, test: EvalSet, k: int = 100) -> dict[str, float]:
    """Full-ranking HR/NDCG of the held-out last item (rank >= k counts as a miss) and list diversity."""
    lists = victim.topk(Queries(test.histories, test.users), k)
    hit = lists == test.targets[:, None]
    ranks = np.where(hit.any(axis=1), hit.argmax(axis=1), k)
    out = ranking_metrics(ranks, ks=(10, 20))
    out.update(list_diversity(lists))
    return {key: out[key] for key in ("hr@10", "ndcg@10", "hr@20", "distinct_top10")}


def run_cell(seed: int, rec_name: str, rec_params: dict[str, Any], setting: str, victims: dict, device) -> dict[str, float]:
    defense_name, defense_params, attack_params = SETTINGS[setting]
    attack = component("attack", "mia-zhang", **attack_params)
    data = victims["data"]
    vkey = (rec_name, seed, attack.split_key())
    if vkey not in victims:
        split = attack.split(data, np.random.default_rng(derive_seed(seed, "split", attack.split_key())))
        ctx = RunContext(seed=derive_seed(seed, "victim"), device=device)
        victim = component("recommender", rec_name, **rec_params).to(device)
        t = time.perf_counter()
        stats = component("defense", "none").train_victim(victim, split, ctx)
        victims[vkey] = (split, victim, stats, time.perf_counter() - t, utility(victim, split.test))
    split, victim, stats, train_s, util = victims[vkey]
    ctx = RunContext(seed=derive_seed(seed, "victim"), device=device)
    defense = component("defense", defense_name, **defense_params)
    defense.prepare(victim, split, ctx)
    api = BlackBoxAPI(
        victim,
        defense=defense,
        popular=split.train.popularity_ranking(),
        rng=np.random.default_rng(derive_seed(seed, "api")),
        **{"k": 100, **attack.serving()},
    )
    actx = AttackContext(
        seed=derive_seed(seed, "attack"),
        device=device,
        split=split,
        n_items=victim.n_items,
        victim_factory=lambda: component("recommender", rec_name, **rec_params).to(device),
    )
    t = time.perf_counter()
    metrics = attack.run(api, actx)
    metrics["attack_s"] = time.perf_counter() - t
    metrics["victim_train_s"] = train_s
    metrics.update({f"utility.{k}": v for k, v in util.items()})
    if "loss" in stats:
        metrics["victim.loss_first"], metrics["victim.loss"] = stats["loss_first"], stats["loss"]
    return metrics


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--recommender", default="lfm", choices=sorted(RECOMMENDERS))
    ap.add_argument("--rec-param", action="append", default=[], metavar="K=V", help="override a recommender parameter")
    ap.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    default_dir = Path(__file__).resolve().parents[2] / "shared" / "data"
    ap.add_argument("--data-dir", type=Path, default=Path(os.environ.get("RECSEC_DATA_DIR", default_dir)))
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the machine is shared)")
    ap.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--json", type=Path, help="write every cell's metrics here")
    args = ap.parse_args(argv)

    import torch

    from recsec.device import resolve_device
    from recsec.params import parse_instance_name

    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    rec_params = dict(RECOMMENDERS[args.recommender])
    if args.rec_param:
        rec_params.update(parse_instance_name(f"x[{','.join(args.rec_param)}]")[1])
    data = load_data(args.data_dir)
    print(f"data: {data.stats()}  recommender: {args.recommender} {rec_params}  seeds: {args.seeds}  device: {device}")
    victims: dict[Any, Any] = {"data": data}
    cells: dict[str, list[dict[str, float]]] = {}
    for setting in args.settings:
        for seed in args.seeds:
            m = run_cell(seed, args.recommender, rec_params, setting, victims, device)
            cells.setdefault(setting, []).append(m)
            print(
                f"  {setting:42s} seed {seed}: auc {m['auc']:.3f}  tpr@1%fpr {m['tpr@1%fpr']:.3f}  "
                f"bal.acc {m['balanced_accuracy']:.3f}  (victim {m['victim_train_s']:.1f}s, attack {m['attack_s']:.1f}s, "
                f"hr@10 {m['utility.hr@10']:.3f})",
                flush=True,
            )
    print(f"\nmean +- std over seeds {args.seeds} ({args.recommender}):")
    summary = {}
    for setting, ms in cells.items():
        row = {k: (float(np.mean([m[k] for m in ms])), float(np.std([m[k] for m in ms]))) for k in ms[0]}
        summary[setting] = row
        n_target = int(row["n_target"][0])
        print(
            f"  {setting:42s} auc {row['auc'][0]:.3f} +- {row['auc'][1]:.3f}   tpr@1%fpr {row['tpr@1%fpr'][0]:.3f} +- {row['tpr@1%fpr'][1]:.3f}"
            f"   bal.acc {row['balanced_accuracy'][0]:.3f} +- {row['balanced_accuracy'][1]:.3f}   (n_target {n_target})"
        )
    if args.json:
        args.json.write_text(json.dumps({"recommender": args.recommender, "params": rec_params, "cells": cells, "summary": summary}, indent=1))
    return summary


if __name__ == "__main__":
    main()
