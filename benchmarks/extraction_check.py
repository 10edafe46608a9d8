"""Quick extraction measurement on Amazon Beauty, emulating the runner's steps for one victim.

Steps (as ``recsec.runner.Runner``): load ``amazon-beauty``, leave-one-out
split, train the victim (RunContext seeded ``derive_seed(seed, "victim")``),
then per attack and seed: ``BlackBoxAPI(victim, k=100, budget=...)`` and
``attack.run(api, AttackContext(...))`` with the runner's seeds. The victim is
trained once (``--victim-seed``) and checkpointed under ``--work-dir``; the
attack seeds vary the attack only. Results: one JSON line per run in ``--out``.

The reduced Beauty setting reported for the extraction issue (one run = one
attack and seed, 2-5 minutes on one busy CPU core; victims: SASRec 30 epochs,
BERT4Rec 15 epochs, trained by the first call)::

    OMP_WAIT_POLICY=PASSIVE nohup nice .venv/bin/python benchmarks/extraction_check.py \
        --victim sasrec --victim-epochs 30 --attacks dfme-autoregressive --seeds 0 \
        --set n_sequences=500 --set max_queries=25000 --set epochs=20 --set prefix_sample=0.2 \
        --set patience=5 --set eval_users=5000 --out /tmp/recsec-extraction/grid-sasrec.jsonl &

(``n_sequences=5000`` for ``fewshot-extraction``: its sequences follow the real
lengths, so ``max_queries`` binds.)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np



def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--victim", default="sasrec", choices=("sasrec", "bert4rec", "narm", "gru4rec"))
    ap.add_argument("--victim-epochs", type=int, default=20)
    ap.add_argument("--victim-seed", type=int, default=0)
    ap.add_argument("--attacks", nargs="*", default=["dfme-random", "dfme-autoregressive", "fewshot-extraction"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--set", action="append", default=[], help="attack parameter key=value (all attacks)")
    ap.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    ap.add_argument("--work-dir", default="/tmp/recsec-extraction")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", default="/tmp/recsec-extraction/results.jsonl")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    from recsec.blackbox import BlackBoxAPI
    from recsec.context import AttackContext, RunContext
    from recsec.data import leave_one_out
    from recsec.dataset import DataContext
    from recsec.device import resolve_device
    from recsec.metrics import list_diversity
    from recsec.evaluation import evaluate
    from recsec.queries import Queries
    from recsec.params import parse_assignments
    from recsec.registry import default_registry
    from recsec.seeding import derive_seed, seed_global

    reg = default_registry()
    device = resolve_device(args.device)
    log = lambda m: print(f"[{time.strftime('%H:%M:%S')}] {m}", flush=True)  # noqa: E731
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)

    t = time.perf_counter()
    dctx = DataContext(Path(args.data_dir), Path(os.environ.get("RECSEC_CACHE_DIR", Path.home() / ".cache" / "recsec")),
                       allow_download=False)
    data = reg.create("dataset", "amazon-beauty[variant=sequence-file]").load(dctx)
    split = leave_one_out(data)
    log(f"data: {data.stats()} ({time.perf_counter() - t:.1f}s)")

    vname = f"{args.victim}[max_epochs={args.victim_epochs},patience=0]"
    victim = reg.create("recommender", vname)
    ckpt = work / f"victim-{args.victim}-e{args.victim_epochs}-s{args.victim_seed}.pt"
    vctx = RunContext(seed=derive_seed(args.victim_seed, "victim"), device=device, log=log)
    if ckpt.exists():
        victim.load(ckpt)
        victim.to(device)
        log(f"victim loaded from {ckpt}")
    else:
        seed_global(derive_seed(args.victim_seed, "global"))
        victim.to(device)
        t = time.perf_counter()
        victim.fit(split, vctx)
        victim.save(ckpt)
        log(f"victim trained in {time.perf_counter() - t:.0f}s -> {ckpt}")
    util = evaluate(victim, split.test, mode="full", ks=(10,))
    div = list_diversity(victim.topk(Queries(split.test.histories, split.test.users), 10))
    log(f"victim {vname}: full-ranking test {util}, diversity {div}")

    params = parse_assignments(args.set)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    out = open(args.out, "a")
    for name in args.attacks:
        for seed in args.seeds:
            attack = reg.create("attack", name, **params)
            actx = AttackContext(
                seed=derive_seed(seed, "attack"), device=device, log=log, split=split, n_items=victim.n_items,
                victim_factory=lambda: reg.create("recommender", vname).to(device),
                reference_topk=lambda q, k: victim.topk(q, k),
            )
            api = BlackBoxAPI(victim, popular=split.train.popularity_ranking(),
                              rng=np.random.default_rng(derive_seed(seed, "api")), **{"k": 100, **attack.serving()})
            t = time.perf_counter()
            m = attack.run(api, actx)
            row = {"victim": vname, "victim_seed": args.victim_seed, "victim_ndcg@10": util["ndcg@10"],
                   "victim_hr@10": util["hr@10"], **{f"victim_{k}": v for k, v in div.items()},
                   "attack": attack.instance_name, "seed": seed, "wall_s": time.perf_counter() - t,
                   "api_queries_used": api.queries_used, **m}
            out.write(json.dumps(row) + "\n")
            out.flush()
            shown = {k: round(v, 4) for k, v in m.items() if k.startswith(("agr@", "ndcg", "hr@", "target", "surrogate_"))}
            log(f"{attack.instance_name} seed {seed}: {shown} queries {api.queries_used} ({time.perf_counter() - t:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
