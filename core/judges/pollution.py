"""The profile-pollution judge (Yue et al., RecSys 2021, downstream attack of DFME).

The arena assigned real test users' histories and target items (``PollutionTasks``); the
attack returned items to append. The judge serves the original, the polluted and a
randomly polluted history (as many uniform items other than the target) through the
defended service, as the evaluator (not the attacker's budget), and reports per target,
averaged over targets: the target's NDCG@10 and HR@10 in the served lists before, after
and with the random baseline, and its mean rank (the list length when absent).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..errors import PluginOutputError
from ..queries import Queries
from ..validation import check_ids

if TYPE_CHECKING:  # pragma: no cover
    from ..arena import Arena
    from ..blackbox import BlackBoxAPI
    from ..outputs import PollutedProfiles
    from ..threat import PollutionTasks


def choose_targets(counts: np.ndarray, n_targets: int, rng: np.random.Generator) -> np.ndarray:
    """Target items spread over popularity: one seeded pick per popularity stratum (items with >= 1 interaction)."""
    ranked = np.lexsort((np.arange(len(counts)), -counts))
    ranked = ranked[counts[ranked] > 0]
    strata = np.array_split(ranked, min(n_targets, len(ranked)))
    return np.asarray([rng.choice(s) for s in strata if len(s)], dtype=np.int64)


def target_ranks(lists: np.ndarray, target: int) -> np.ndarray:
    """Rank of ``target`` in each list (int (B,)), the list length when absent."""
    hit = lists == target
    return np.where(hit.any(1), hit.argmax(1), lists.shape[1])


def _rank_scores(ranks: np.ndarray) -> tuple[float, float, float]:
    hit = ranks < 10
    return float(np.where(hit, 1.0 / np.log2(ranks + 2.0), 0.0).mean()), float(hit.mean()), float(ranks.mean())


def judge_pollution(arena: "Arena", out: "PollutedProfiles", tasks: "PollutionTasks", api: "BlackBoxAPI",
                    who: str) -> dict[str, float]:
    """Per-target scores averaged over the targets; ``api`` serves as the evaluator."""
    if len(out.appended) != len(tasks.targets):
        raise PluginOutputError(f"{who}: PollutedProfiles.appended needs one array per target "
                                f"({len(tasks.targets)}), got {len(out.appended)}")
    rng = arena.streams.rng("pollution-baseline")
    n = arena.n_items
    # Each polluted profile asks as its own user (one account per user, as the utility check asks):
    # a per-account defense must not see the judge's measurement as one heavy account.
    accounts = [f"user-{i}" for i in range(len(tasks.histories))]
    before = api.query(Queries(tasks.histories), account=accounts)
    rows: dict[str, list[float]] = {}
    for target, appended in zip(tasks.targets, out.appended):
        ok = tasks.eligible(int(target))
        app = check_ids(appended, who, "appended items", n)
        if app.shape != (len(ok), tasks.n_append) or (app < 0).any():
            raise PluginOutputError(f"{who}: appended items for target {int(target)} must be item ids of shape "
                                    f"({len(ok)}, {tasks.n_append}), got {app.shape}")
        if len(ok) == 0:
            continue
        hists = [tasks.histories[i] for i in ok]
        rnd = rng.integers(0, n - 1, size=app.shape)
        rnd = rnd + (rnd >= target)  # uniform over the items other than the target
        who_ok = [accounts[i] for i in ok]
        served = {
            "before": before[ok],
            "after": api.query(Queries([np.concatenate([h, a]) for h, a in zip(hists, app)]), account=who_ok),
            "random": api.query(Queries([np.concatenate([h, a]) for h, a in zip(hists, rnd)]),
                                account=[f"{a}-random" for a in who_ok]),
        }
        for when, lists in served.items():
            ndcg, hr, rank = _rank_scores(target_ranks(lists, int(target)))
            rows.setdefault(f"attack.target_ndcg@10_{when}", []).append(ndcg)
            rows.setdefault(f"attack.target_hr@10_{when}", []).append(hr)
            if when != "random":
                rows.setdefault(f"attack.target_rank_{when}", []).append(rank)
    return {name: float(np.mean(v)) for name, v in rows.items()}
