"""Quick measurement of extraction defenses on Amazon Beauty, emulating the runner's steps.

Steps (as ``recsec.runner.Runner`` for one cell): load ``amazon-beauty``
(the S3-Rec sequence file), leave-one-out split; the victim is trained with
``RunContext(seed=derive_seed(seed, "victim"))``, by ``defense.train_victim``
for a training-time defense (GRO), and checkpointed under ``--work-dir``
(``--stage train`` stops there, so a long training can run on its own);
``defense.prepare``; utility: full-ranking HR@10 / NDCG@10 of the victim
(``utility.*``) and of the lists served to the ``"evaluator"`` account
through the defense (``defended.*``); then per attack a fresh
``BlackBoxAPI(victim, k=100, defense=deepcopy(defense))``,
``attack.run`` and ``defense.metrics(api.log)``. One JSON line per
(defense, attack) in ``--out``.

GRO with ``--gro-warm``: the GRO victim continues from the undefended
checkpoint of the same run (the reference code's ``--use_pretrained``, used
for Beauty) for ``--gro-epochs`` epochs. ``--resume-from E0`` trains the
undefended victim of ``--victim-epochs`` E by continuing the E0 checkpoint
(chained runs of a few epochs each; the optimizer state restarts).

Examples (one CPU thread; each step alone stays under ~15 minutes on a busy core)::

    B=benchmarks/defense_check.py; O=/tmp/recsec-defense
    nohup nice .venv/bin/python $B --stage train --defenses none --victim-epochs 8 &
    nohup nice .venv/bin/python $B --stage train --defenses "gro[lam=0.001]" --victim-epochs 8 --gro-warm --gro-epochs 3 &
    nohup nice .venv/bin/python $B --defenses none "gro[lam=0.001]" reverse random-permutation --victim-epochs 8 \\
        --gro-warm --gro-epochs 3 --attacks dfme-autoregressive --set n_sequences=300 --set epochs=10 &
    nohup nice .venv/bin/python $B --defenses "same-detector[epochs=3,aux_epochs=3,train_users=5000]" prada-detector \\
        --victim-epochs 8 --attacks dfme-random dfme-autoregressive fewshot-extraction --set n_sequences=200 --set epochs=1 &
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from pathlib import Path

import numpy as np



def _num(d: dict) -> dict:
    return {k: float(v) for k, v in d.items() if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--victim", default="bert4rec", choices=("bert4rec", "sasrec"))
    ap.add_argument("--victim-epochs", type=int, default=8)
    ap.add_argument("--gro-epochs", type=int, default=0, help="GRO epochs (0: --victim-epochs)")
    ap.add_argument("--gro-warm", action="store_true", help="GRO continues from the undefended checkpoint")
    ap.add_argument("--resume-from", type=int, default=0,
                    help="train the undefended victim by continuing its checkpoint of this many epochs (chained runs)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--attack-seeds", nargs="*", type=int, default=None, help="attack / API seeds (default: --seed)")
    ap.add_argument("--defenses", nargs="+", default=["none", "gro", "reverse", "random-permutation"])
    ap.add_argument("--attacks", nargs="*", default=["dfme-autoregressive"])
    ap.add_argument("--set", action="append", default=[], help="attack parameter key=value (all attacks)")
    ap.add_argument("--stage", choices=("train", "all"), default="all")
    ap.add_argument("--eval-users", type=int, default=0, help="test users for the utility (0 = all)")
    ap.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    ap.add_argument("--work-dir", default="/tmp/recsec-defense")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", default="/tmp/recsec-defense/results.jsonl")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    from recsec.blackbox import EVALUATOR, BlackBoxAPI
    from recsec.context import AttackContext, RunContext
    from recsec.data import EvalSet, leave_one_out
    from recsec.dataset import DataContext
    from recsec.device import resolve_device
    from recsec.evaluation import evaluate
    from recsec.metrics import list_diversity, ranking_metrics
    from recsec.queries import Queries
    from recsec.params import parse_assignments
    from recsec.registry import default_registry
    from recsec.seeding import derive_seed, seed_global

    reg = default_registry()
    device = resolve_device(args.device)
    log = lambda m: print(f"[{time.strftime('%H:%M:%S')}] {m}", flush=True)  # noqa: E731
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    dctx = DataContext(Path(args.data_dir), Path(os.environ.get("RECSEC_CACHE_DIR", Path.home() / ".cache" / "recsec")),
                       allow_download=False)
    data = reg.create("dataset", "amazon-beauty[variant=sequence-file]").load(dctx)
    split = leave_one_out(data)
    log(f"data: {data.stats()}")
    test = split.test
    if 0 < args.eval_users < len(test):
        rows = np.sort(np.random.default_rng(derive_seed(args.seed, "eval-users")).choice(len(test), args.eval_users, replace=False))
        test = EvalSet(test.users[rows], [test.histories[r] for r in rows], test.targets[rows])
    vname = f"{args.victim}[max_epochs={args.victim_epochs},patience=0]"
    gro_epochs = args.gro_epochs or args.victim_epochs
    vctx = RunContext(seed=derive_seed(args.seed, "victim"), device=device, log=log)

    def victim_for(defense) -> tuple[object, dict]:
        plain = work / f"victim-{args.victim}-e{args.victim_epochs}-s{args.seed}.pt"
        if defense.trains_victim:
            tag = defense.instance_name.replace("[", "(").replace("]", ")")
            ckpt = work / f"victim-{args.victim}-e{args.victim_epochs}-{tag}-g{gro_epochs}{'w' if args.gro_warm else ''}-s{args.seed}.pt"
        else:
            ckpt = plain
        rec = reg.create("recommender", vname if not defense.trains_victim else
                         f"{args.victim}[max_epochs={gro_epochs},patience=0]")
        meta = Path(str(ckpt) + ".json")
        if ckpt.exists():
            rec.load(ckpt)
            rec.to(device)
            log(f"victim loaded from {ckpt}")
            return rec, json.loads(meta.read_text()) if meta.exists() else {}
        seed_global(derive_seed(args.seed, "global"))
        rec.to(device)
        t = time.perf_counter()
        if defense.trains_victim and args.gro_warm:
            base, _ = victim_for(reg.create("defense", "none"))
            rec.n_items, rec.net = base.n_items, base.net
        earlier = work / f"victim-{args.victim}-e{args.resume_from}-s{args.seed}.pt"
        if not defense.trains_victim and args.resume_from and earlier.exists():
            from recsec.plugins.recommenders._seq_train import train_sequential

            rec = reg.create("recommender", f"{args.victim}[max_epochs={args.victim_epochs - args.resume_from},patience=0]")
            rec.load(earlier)
            rec.to(device)
            log(f"continuing {earlier} for {args.victim_epochs - args.resume_from} epochs (fresh optimizer state)")
            stats = train_sequential(rec, split, vctx)
        else:
            stats = defense.train_victim(rec, split, vctx) if defense.trains_victim else rec.fit(split, vctx)
        stats = {**_num(stats), "wall_s": time.perf_counter() - t}
        rec.save(ckpt)
        meta.write_text(json.dumps(stats))
        log(f"victim {defense.instance_name} trained in {stats['wall_s']:.0f}s -> {ckpt}: {stats}")
        return rec, stats

    params = parse_assignments(args.set)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    for dtext in args.defenses:
        defense = reg.create("defense", dtext)
        victim, vstats = victim_for(defense)
        if args.stage == "train":
            continue
        ctx = RunContext(seed=derive_seed(args.seed, "victim"), device=device, log=log)
        t = time.perf_counter()
        defense.prepare(victim, split, ctx)
        prepare_s = time.perf_counter() - t
        util = {f"utility.{k}": v for k, v in evaluate(victim, test, mode="full", ks=(10,)).items()}
        util.update({f"utility.{k}": v for k, v in list_diversity(victim.topk(Queries(test.histories), 10)).items()})
        api = BlackBoxAPI(victim, defense=copy.deepcopy(defense), popular=split.train.popularity_ranking(),
                          rng=np.random.default_rng(derive_seed(args.seed, "evaluator")), k=100)
        lists = api.query(Queries(test.histories, test.users), account=EVALUATOR)
        hit = lists == test.targets[:, None]
        ranks = np.where(hit.any(axis=1), hit.argmax(axis=1), np.iinfo(np.int64).max // 2)
        util.update({f"defended.{k}": v for k, v in ranking_metrics(ranks, ks=(10,)).items()})
        log(f"{defense.instance_name}: {util} (prepare {prepare_s:.0f}s)")
        for name, aseed in [(a, s) for a in args.attacks or [] for s in (args.attack_seeds or [args.seed])]:
            attack = reg.create("attack", name, **{k: v for k, v in params.items() if k in reg.get("attack", name).params})
            actx = AttackContext(seed=derive_seed(aseed, "attack"), device=device, log=log, split=split,
                                 n_items=victim.n_items,
                                 victim_factory=lambda: reg.create("recommender", vname).to(device),
                                 reference_topk=lambda q, k: victim.topk(q, k))
            d = copy.deepcopy(defense)
            api = BlackBoxAPI(victim, defense=d, popular=split.train.popularity_ranking(),
                              rng=np.random.default_rng(derive_seed(aseed, "api")), **{"k": 100, **attack.serving()})
            t = time.perf_counter()
            m = attack.run(api, actx)
            attack_s = time.perf_counter() - t
            t = time.perf_counter()
            dm = d.metrics(api.log, ctx)
            row = {"victim": vname, "seed": args.seed, "attack_seed": aseed, "defense": defense.instance_name,
                   "attack": attack.instance_name,
                   **util, **{f"victim.{k}": v for k, v in vstats.items()},
                   **{f"attack.{k}": v for k, v in _num(m).items()}, "attack.queries_used": api.queries_used,
                   **{f"defense.{k}": v for k, v in _num(dm).items()},
                   "timings.prepare_s": prepare_s, "timings.attack_s": attack_s, "timings.metrics_s": time.perf_counter() - t}
            with open(args.out, "a") as f:
                f.write(json.dumps(row) + "\n")
            keys = ("attack.agr@10", "attack.ndcg@10", "defense.auroc_query", "defense.auroc_account", "defense.benign_refused")
            log(f"{defense.instance_name} / {attack.instance_name} / seed {aseed}: " + ", ".join(f"{k} {row[k]:.4f}" for k in keys if k in row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
