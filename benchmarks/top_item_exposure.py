"""Which items a stored victim puts into every user's top 10: a check of how a defense reshapes lists.

Written for GRO's zero-gradient rows (``gro[zero_rows=first_item]``, the reference code's
behaviour, pushes the first item id up in every masked swap row): it reports, for each
checkpoint, the share of test users' top-10 lists that hold item id 0 and that hold the
victim's most frequent item, next to the number of distinct items over all top-10 lists.
The lists are the victim's own top 10 with the user's history excluded, as the runner's
``utility.distinct_top10`` counts them (``Recommender.topk``, ``metrics.list_diversity``).

    python benchmarks/top_item_exposure.py --data-dir ../shared/data \\
        --dataset "ml-100k[min_item_count=5,min_user_count=5]" \\
        --recommender "bert4rec[max_len=200,...]" LABEL=ARTIFACTS/victims/KEY.pt ...

The checkpoint's file name is its victim key (``recsec results`` does not print it; the
runner logs it, and ``ARTIFACTS/victims`` holds one file per trained victim).
"""

from __future__ import annotations

import argparse

import numpy as np

from recsec.data import leave_one_out
from recsec.dataset import DataContext
from recsec.metrics import list_diversity
from recsec.queries import Queries
from recsec.registry import default_registry


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--recommender", required=True, help="the spec's recommender string (builds the net to load into)")
    ap.add_argument("checkpoints", nargs="+", metavar="LABEL=PATH")
    args = ap.parse_args()

    reg = default_registry()
    data = reg.create("dataset", args.dataset).load(DataContext.from_env(args.data_dir))
    split = leave_one_out(data)
    pop_rank = {int(item): r for r, item in enumerate(split.train.popularity_ranking())}
    print(f"item 0: {int(split.train.item_counts()[0])} training events, popularity rank {pop_rank[0] + 1} "
          f"of {split.train.n_items}; {len(split.test)} test users")
    print("| victim | lists holding item 0 | most frequent item (popularity rank): share of lists | distinct top-10 items |")
    print("|---|---|---|---|")
    for spec in args.checkpoints:
        label, path = spec.split("=", 1)
        model = reg.create("recommender", args.recommender)
        model.load(path)
        lists = model.topk(Queries(split.test.histories, split.test.users), 10)
        # the items of one top-k list are distinct, so an item's count is the number of lists holding it
        share = np.bincount(lists.ravel(), minlength=split.train.n_items) / len(lists)
        top = int(share.argmax())
        distinct = int(list_diversity(lists)["distinct_top10"])
        print(f"| {label} | {share[0]:.3f} | {top} ({pop_rank[top] + 1}): {share[top]:.3f} | {distinct} |")


if __name__ == "__main__":
    main()
