"""The extraction judge: how much of the victim a surrogate reproduces (Yue et al., RecSys 2021).

- ``attack.agr@1``, ``attack.agr@10``: Agr@K = mean over real test users of
  |TopK_victim(x) ∩ TopK_surrogate(x)| / K, top-K over the full catalogue with the
  query's history excluded on both sides (as the service serves), x = the user's test
  input, the victim undefended (the judge's own reference lists: never an attack's).
- ``attack.ndcg@10``, ``attack.hr@10``: the surrogate ranking the test targets
  (``recsec.evaluation``, full ranking, history masked); ``*_unmasked``: history
  included, the quantity of the GRO table (methods.md section 5).
- ``attack.agr@10_unmasked``: Agr@10 when neither side drops the query's history (the
  DFME reference's black box and metric).
- ``attack.agr@10_init``: the untrained surrogate's agreement (this architecture's chance level).
- ``attack.agr@10_unseen``: Agr@10 on the test users outside the first 10 % of the seeded
  real-user order (``Arena.unseen_users``): the users a 10 % few-shot attacker does not hold,
  one fixed set for every extraction attack, with real data or without, so memorised users
  flatter no one and few-shot and data-free are scored on the same users.
- ``attack.holdout_agr@10`` (observable): agreement with the black box's answers to the
  attacker's held-out queries, after checking those answers against the query log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..errors import PluginOutputError
from ..evaluation import evaluate
from ..metrics import agreement_at_k, served_agreement
from ..queries import Queries
from ..validation import check_lists

if TYPE_CHECKING:  # pragma: no cover
    from ..arena import Arena
    from ..blackbox import QueryLog
    from ..outputs import Surrogate
    from ..recommender import Recommender
    from ..threat import Knowledge


def _top10(model: "Recommender", q: Queries, n_items: int, who: str) -> np.ndarray:
    return check_lists(model.topk(q, 10), q, n_items, f"{who}: topk()", k=10, exact=True, exclude_history=True)


def verified_lists(log: "QueryLog", queries: Queries, lists: np.ndarray, who: str) -> np.ndarray:
    """``lists`` after checking that the black box really answered each query so (any of its answers
    to that exact history; a randomising defense may answer one history several ways)."""
    answers: dict[bytes, list[np.ndarray]] = {}
    for rec in log.records:
        answers.setdefault(np.asarray(rec.history, np.int64).tobytes(), []).append(rec.answer)
    lists = np.asarray(lists)
    if lists.ndim != 2 or len(lists) != len(queries):
        raise PluginOutputError(f"{who}: holdout_lists must hold one list per holdout query, got shape {lists.shape}")
    for i, h in enumerate(queries.histories):
        seen = answers.get(np.asarray(h, np.int64).tobytes(), [])
        # the served items of a claim (-1 pads a list a defense shortened) must start one real answer
        claim = lists[i][lists[i] >= 0]
        if not any(np.array_equal(np.asarray(a)[np.asarray(a) >= 0][: len(claim)], claim) for a in seen):
            raise PluginOutputError(f"{who}: holdout query {i} claims an answer the black box never gave it; "
                                    "report the lists the API returned")
    return lists


def judge_surrogate(arena: "Arena", out: "Surrogate", log: "QueryLog", knowledge: "Knowledge",
                    who: str) -> dict[str, float]:
    """The extraction metrics of ``out`` (see the module docstring)."""
    from ..recommender import Recommender

    model = out.model
    if not isinstance(model, Recommender) or model.n_items != arena.n_items:
        raise PluginOutputError(f"{who}: Surrogate.model must be a trained Recommender over the "
                                f"{arena.n_items} items of the catalogue")
    es = arena.eval_set()
    nan = float("nan")
    metrics = {"attack.agr@1": nan, "attack.agr@10": nan, "attack.ndcg@10": nan, "attack.hr@10": nan}
    if len(es):
        q = Queries(es.histories, es.users)
        ref = arena.reference_top10(q)
        ours = _top10(model, q, arena.n_items, who)
        metrics["attack.agr@1"] = agreement_at_k(ours, ref, 1)
        metrics["attack.agr@10"] = agreement_at_k(ours, ref, 10)
        quality = evaluate(model, es, mode="full", ks=(10,))
        metrics["attack.ndcg@10"], metrics["attack.hr@10"] = quality["ndcg@10"], quality["hr@10"]
        unmasked = evaluate(model, es, mode="unmasked", ks=(10,))
        metrics["attack.ndcg@10_unmasked"], metrics["attack.hr@10_unmasked"] = unmasked["ndcg@10"], unmasked["hr@10"]
        metrics["attack.agr@10_unmasked"] = agreement_at_k(model.topk(q, 10, exclude_history=False),
                                                           arena.victim.topk(q, 10, exclude_history=False), 10)
        if out.untrained is not None:
            metrics["attack.agr@10_init"] = agreement_at_k(_top10(out.untrained, q, arena.n_items, who), ref, 10)
        # one fixed set for every attack (outside the first 10 % of the seeded real-user order, or
        # outside the attacker's own real users when it holds more), so a few-shot attacker and a
        # data-free one are compared on the same users, neither of which either holds
        unseen = np.isin(es.users, arena.unseen_users(knowledge.threat.real_fraction))
        if unseen.any():
            metrics["attack.agr@10_unseen"] = agreement_at_k(ours[unseen], ref[unseen], 10)
    if out.holdout is not None and len(out.holdout):
        if out.holdout_lists is None:
            raise PluginOutputError(f"{who}: Surrogate.holdout needs holdout_lists (the answers received)")
        theirs = verified_lists(log, out.holdout, out.holdout_lists, who)
        mine = _top10(model, out.holdout, arena.n_items, who)
        metrics["attack.holdout_agr@10"] = served_agreement(mine, theirs, 10)  # lists may be shorter than 10
    return metrics
