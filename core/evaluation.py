"""Ranking evaluation of a recommender on held-out targets: full ranking and sampled.

The protocol of methods.md section 1 (DFME, Yue et al., RecSys 2021; GRO,
Zhang et al., WSDM 2024), with the reference code's pitfalls removed:

- ``mode="full"``: the target is ranked against every item of the catalogue;
  the items of the query's history are removed from the candidates, except
  the target itself (a repeated item stays rankable).
- ``mode="unmasked"``: against every item, history included: the quantity the
  GRO reference code reports (it ``argsort``s every item), not recsec's masked one.
- ``mode="sampled"``: the target is ranked against ``n_negatives`` (100) items
  drawn uniformly, without replacement, from the items the user never
  interacted with (history, target and ``exclude``), i.e. 101 candidates.
  Negatives come from the stream ``(seed, "negatives", stream)``: validation
  and test use different streams (the reference code gives both the same
  negatives), and they are drawn once for the whole evaluation set, so they
  do not depend on ``batch_size``.
- Ties are counted pessimistically: the target ranks below every candidate
  whose score is greater **or equal** (a model scoring everything alike gets
  rank N-1, not 0). NaN scores count as ``-inf``.

Scores are computed in batches on the recommender's device; only the ranks
(one integer per user) leave it. ``ranking_metrics`` (recsec.metrics) turns
ranks into NDCG@K and HR@K.

Shapes: m = users in the evaluation set, N = catalogue size, B = batch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from .data import EvalSet
from .metrics import ranking_metrics
from .queries import Queries
from .sampling import draw_outside_keys
from .seeding import numpy_rng

if TYPE_CHECKING:  # pragma: no cover
    from .data import Split
    from .recommender import Recommender

MODES = ("full", "sampled", "unmasked")
#: Default seed of the sampled negatives (the runner passes its own).
EVAL_SEED = 0


def _pairs(evalset: EvalSet, exclude: Sequence[np.ndarray] | None) -> tuple[np.ndarray, np.ndarray]:
    """(row, item) pairs of everything row i's user interacted with: history, target, exclude[i]."""
    m = len(evalset)
    parts_r = [np.repeat(np.arange(m), [len(h) for h in evalset.histories]), np.arange(m)]
    parts_i = [np.concatenate(list(evalset.histories)) if m else np.zeros(0, np.int64), np.asarray(evalset.targets)]
    if exclude is not None:
        if len(exclude) != m:
            raise ValueError("exclude must have one array per evaluation row")
        parts_r.append(np.repeat(np.arange(m), [len(e) for e in exclude]))
        parts_i.append(np.concatenate([np.asarray(e, dtype=np.int64) for e in exclude]) if m else np.zeros(0, np.int64))
    rows = np.concatenate(parts_r).astype(np.int64)
    items = np.concatenate(parts_i).astype(np.int64)
    return rows, items


def sample_negatives(
    evalset: EvalSet,
    n_items: int,
    n_negatives: int = 100,
    seed: int = EVAL_SEED,
    stream: str = "test",
    exclude: Sequence[np.ndarray] | None = None,
) -> np.ndarray:
    """Negatives for sampled evaluation: int64 (m, n_negatives), ``-1`` where a user has too few.

    Row i holds ``n_negatives`` distinct items drawn uniformly from the items
    that are neither in ``histories[i]``, nor ``targets[i]``, nor
    ``exclude[i]`` (pass the user's later items there, e.g. the test item
    when evaluating validation). Vectorised rejection sampling: the first
    distinct valid draws of an i.i.d. uniform stream form a uniform subset.
    """
    m = len(evalset)
    if m == 0 or n_negatives == 0:
        return np.full((m, n_negatives), -1, dtype=np.int64)
    rng = numpy_rng(seed, "negatives", stream)
    rows, items = _pairs(evalset, exclude)
    if len(items) and (items.min() < 0 or items.max() >= n_items):
        raise ValueError(f"item ids must lie in [0, {n_items})")
    seen = np.unique(rows * n_items + items)  # sorted keys row * N + item
    return draw_outside_keys(seen, m, n_items, n_negatives, rng, enumerate_factor=2)


def target_ranks(
    recommender: "Recommender",
    evalset: EvalSet,
    mode: str = "full",
    n_negatives: int = 100,
    seed: int = EVAL_SEED,
    stream: str = "test",
    batch_size: int = 512,
    exclude: Sequence[np.ndarray] | None = None,
    negatives: np.ndarray | None = None,
) -> np.ndarray:
    """0-based rank of each target (int64 (m,)); see the module docstring for the rules.

    Args:
        negatives: precomputed ``sample_negatives`` output (sampled mode), to
            reuse the same draw across calls (e.g. validation every epoch).
    """
    import torch

    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    m = len(evalset)
    if m == 0:
        return np.zeros(0, dtype=np.int64)
    n_items = int(recommender.n_items)
    if mode == "sampled" and negatives is None:
        negatives = sample_negatives(evalset, n_items, n_negatives, seed, stream, exclude)
    if negatives is not None and len(negatives) != m:
        raise ValueError("negatives must have one row per evaluation row")
    # Batches of similar history length: sequential models then compute little padding.
    order = np.argsort(np.fromiter((len(h) for h in evalset.histories), np.int64, m), kind="stable")
    users = None if evalset.users is None else np.asarray(evalset.users)
    targets = np.asarray(evalset.targets)
    ranks = np.empty(m, dtype=np.int64)
    with torch.no_grad():
        for a in range(0, m, batch_size):
            rows_ = order[a : a + batch_size]
            b = a + len(rows_)
            q = Queries([evalset.histories[i] for i in rows_], None if users is None else users[rows_])
            scores = recommender.score(q).float()
            scores = torch.nan_to_num(scores, nan=-torch.inf)
            dev = scores.device
            tgt = torch.as_tensor(targets[rows_], dtype=torch.long, device=dev)
            t = scores.gather(1, tgt[:, None])  # (B, 1)
            if mode in ("full", "unmasked"):
                ge = scores >= t  # (B, N)
                rows, cols = q.history_mask_indices()
                if len(rows) and mode == "full":
                    ge[torch.as_tensor(rows, device=dev), torch.as_tensor(cols, device=dev)] = False
                ge[torch.arange(b - a, device=dev), tgt] = False
            else:
                neg = torch.as_tensor(negatives[rows_], dtype=torch.long, device=dev)  # (B, n_neg)
                ge = (scores.gather(1, neg.clamp(min=0)) >= t) & (neg >= 0)
            ranks[rows_] = ge.sum(1).cpu().numpy()
    return ranks


def evaluate(
    recommender: "Recommender",
    evalset: EvalSet,
    mode: str = "full",
    ks: tuple[int, ...] = (1, 5, 10, 20),
    n_negatives: int = 100,
    seed: int = EVAL_SEED,
    batch_size: int = 512,
    stream: str = "test",
    exclude: Sequence[np.ndarray] | None = None,
    negatives: np.ndarray | None = None,
) -> dict[str, float]:
    """NDCG@K and HR@K (keys ``ndcg@10``, ``hr@10``, ...) of ``recommender`` on ``evalset``.

    Args:
        mode: ``"full"`` (all items, history masked) or ``"sampled"``
            (``n_negatives`` uniform negatives outside the user's items).
        seed, stream: the negatives' random stream (sampled mode). Pass
            ``stream="valid"`` for validation: validation and test never share
            negatives. ``evaluate_split`` does this for you.
        exclude: per row, further items the user interacted with that must
            not be drawn as negatives (sampled mode only; full ranking masks
            the history alone, since the model does not know later items).
        negatives: a precomputed draw (``sample_negatives``).
    """
    ranks = target_ranks(recommender, evalset, mode, n_negatives, seed, stream, batch_size, exclude, negatives)
    return ranking_metrics(ranks, tuple(ks))


def user_items_for(split: "Split", evalset: EvalSet) -> list[np.ndarray]:
    """For each row of ``evalset``, every item its user has in ``split`` (train, valid, test)."""
    n = split.train.n_items
    srcs_u = [split.train.users]
    srcs_i = [split.train.items]
    for es in (split.valid, split.test):
        srcs_u += [np.repeat(es.users, [len(h) for h in es.histories]), es.users]
        srcs_i += [np.concatenate(list(es.histories)) if len(es) else np.zeros(0, np.int64), es.targets]
    keys = np.unique(np.concatenate(srcs_u).astype(np.int64) * n + np.concatenate(srcs_i).astype(np.int64))
    users = np.asarray(evalset.users, dtype=np.int64)
    lo = np.searchsorted(keys, users * n)
    hi = np.searchsorted(keys, (users + 1) * n)
    return [keys[a:b] - u * n for a, b, u in zip(lo, hi, users)]


def evaluate_split(
    recommender: "Recommender",
    split: "Split",
    mode: str = "sampled",
    ks: tuple[int, ...] = (1, 5, 10, 20),
    n_negatives: int = 100,
    seed: int = EVAL_SEED,
    batch_size: int = 512,
    which: tuple[str, ...] = ("valid", "test"),
) -> dict[str, dict[str, float]]:
    """``evaluate`` on ``split.valid`` and/or ``split.test`` with the reference protocol.

    Sampled negatives avoid every item the user has anywhere in the split
    (as the reference does), and use the streams ``"valid"`` and ``"test"``.
    """
    out = {}
    for name in which:
        es = getattr(split, name)
        excl = user_items_for(split, es) if mode == "sampled" else None
        out[name] = evaluate(recommender, es, mode, ks, n_negatives, seed, batch_size, stream=name, exclude=excl)
    return out
