"""Membership-inference protocol data (numpy only): the user partition, item vectors, features.

Follows Zhang et al., "Membership Inference Attacks Against Recommender
Systems" (CCS 2021, arXiv 2109.08045): disjoint shadow / target /
item-embedding user sets, half members and half non-members in the shadow
and target sets; item vectors from a matrix factorisation of the embedding
set; a user's feature is the mean vector of the items it interacted with
minus the rank-weighted centroid of the items recommended to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from recsec.data import EvalSet, Interactions, Split

#: Largest users x items matrix factorised densely (LAPACK); larger ones use sparse ARPACK.
DENSE_SVD_LIMIT = 20_000_000


@dataclass(frozen=True)
class MIAPartition:
    """Who is where in a membership-inference split (dense user ids, sorted).

    Attributes:
        shadow_members, shadow_nonmembers: the attacker's own users: it trains
            its shadow recommender on the members.
        target_members: the users the victim is trained on.
        target_nonmembers: target users the victim never saw.
        embedding: users whose interactions are public and give the item vectors.
        observed: what the attacker may know of these users' interactions:
            all events of the embedding users and all but the last (by time)
            event of every shadow and target user. The victim's training set is
            ``observed`` restricted to ``target_members``; the held-out last
            events of the target members are ``Split.test``'s targets.
    """

    shadow_members: np.ndarray
    shadow_nonmembers: np.ndarray
    target_members: np.ndarray
    target_nonmembers: np.ndarray
    embedding: np.ndarray
    observed: Interactions
    _seqs: list[np.ndarray] = field(default_factory=list, repr=False, compare=False)

    def histories(self, users: np.ndarray) -> list[np.ndarray]:
        """Each user's observed items in time order."""
        if not self._seqs:
            self._seqs.extend(self.observed.sequences())
        return [self._seqs[u] for u in users]

    def interactions_of(self, users: np.ndarray) -> Interactions:
        """The observed events of ``users`` (id spaces kept)."""
        return self.observed.subset(np.isin(self.observed.users, users))

    def sizes(self) -> dict[str, int]:
        return {
            "shadow_members": len(self.shadow_members),
            "shadow_nonmembers": len(self.shadow_nonmembers),
            "target_members": len(self.target_members),
            "target_nonmembers": len(self.target_nonmembers),
            "embedding": len(self.embedding),
        }


def empty_evalset() -> EvalSet:
    """An EvalSet with no users."""
    return EvalSet(np.zeros(0, dtype=np.int64), [], np.zeros(0, dtype=np.int64))


def build_split(
    data: Interactions,
    rng: np.random.Generator,
    *,
    min_interactions: int,
    shadow_frac: float,
    target_frac: float,
    member_frac: float,
    key: str,
) -> Split:
    """Partition users for membership inference and build the victim's split.

    Users with at least ``min_interactions`` (and at least 2) events are shuffled and cut into
    shadow (``shadow_frac``), target (``target_frac``) and embedding (the rest)
    sets; the first ``round(member_frac * size)`` of the shuffled shadow and
    target users are members. ``Split.train`` is the target members' events
    minus each one's last event; ``Split.test`` has that last event as the one
    target per member (input: the training events); ``Split.valid`` is empty
    (the recommenders of this protocol do not early-stop). The partition is in
    ``Split.extra["mia"]`` (a ``MIAPartition``).
    """
    if not (0 < shadow_frac and 0 < target_frac and shadow_frac + target_frac < 1):
        raise ValueError("shadow_frac and target_frac must be positive and leave users for the embedding set")
    counts = np.bincount(data.users, minlength=data.n_users)
    eligible = np.flatnonzero(counts >= max(min_interactions, 2))  # a held-out event and a non-empty history
    perm = rng.permutation(eligible)
    n = len(perm)
    n_sh, n_tg = int(round(n * shadow_frac)), int(round(n * target_frac))
    shadow, target, embedding = perm[:n_sh], perm[n_sh : n_sh + n_tg], perm[n_sh + n_tg :]
    m_sh, m_tg = int(round(len(shadow) * member_frac)), int(round(len(target) * member_frac))
    parts = {
        "shadow_members": shadow[:m_sh],
        "shadow_nonmembers": shadow[m_sh:],
        "target_members": target[:m_tg],
        "target_nonmembers": target[m_tg:],
        "embedding": embedding,
    }
    empty = [k for k, v in parts.items() if len(v) == 0]
    if empty:
        raise ValueError(
            f"membership-inference split: {', '.join(empty)} empty ({n} users have >= {min_interactions} interactions)"
        )
    parts = {k: np.sort(v).astype(np.int64) for k, v in parts.items()}

    # The last event (by time, ties by item) of every shadow and target user is held out.
    order = data.order()
    bounds = np.searchsorted(data.users[order], np.arange(data.n_users + 1))
    queried = np.concatenate([shadow, target]).astype(np.int64)
    held_out = np.zeros(len(data), dtype=bool)
    held_out[order[bounds[queried + 1] - 1]] = True
    in_parts = np.zeros(data.n_users, dtype=bool)
    in_parts[eligible] = True
    observed = data.subset(in_parts[data.users] & ~held_out)

    members = parts["target_members"]
    is_member = np.zeros(data.n_users, dtype=bool)
    is_member[members] = True
    train = observed.subset(is_member[observed.users])
    seqs = train.sequences()
    targets = data.items[order[bounds[members + 1] - 1]]
    test = EvalSet(members, [seqs[u] for u in members], targets.astype(np.int64))
    partition = MIAPartition(observed=observed, **parts)
    return Split(train=train, valid=empty_evalset(), test=test, key=key, extra={"mia": partition})


def item_vectors(data: Interactions, dim: int, rng: np.random.Generator) -> np.ndarray:
    """Item vectors (N, dim) from a rank-``dim`` factorisation of the binary user-item matrix of ``data``.

    Truncated SVD ``M ~ U S V^T`` of the (users x items) 0/1 matrix; item
    vectors are ``V sqrt(S)`` (an item's coordinates in the shared latent
    space). Items ``data`` never mentions get zero vectors; when the rank is
    below ``dim`` the missing columns are zero. Dense LAPACK SVD for small
    matrices, ARPACK (``svds``, start vector from ``rng``) otherwise.
    """
    users = np.unique(data.users)
    row = np.searchsorted(users, data.users)
    N = data.n_items
    out = np.zeros((N, dim), dtype=np.float32)
    if len(users) == 0:
        return out
    if len(users) * N <= DENSE_SVD_LIMIT:
        M = np.zeros((len(users), N), dtype=np.float64)
        M[row, data.items] = 1.0
        _, s, vt = np.linalg.svd(M, full_matrices=False)
        r = min(dim, len(s))
        s, vt = s[:r], vt[:r]
    else:
        import scipy.sparse as sp
        from scipy.sparse.linalg import svds

        M = sp.csr_matrix((np.ones(len(row)), (row, data.items)), shape=(len(users), N))
        M.data[:] = 1.0  # duplicates collapse to one interaction
        r = min(dim, min(M.shape) - 1)
        _, s, vt = svds(M, k=r, v0=rng.standard_normal(min(M.shape)))
        top = np.argsort(-s)
        s, vt = s[top], vt[top]
    out[:, : len(s)] = (vt.T * np.sqrt(s)).astype(np.float32)
    return out


def rank_weights(k: int) -> np.ndarray:
    """Weights of list positions 0..k-1: (k - j) / sum_j (k - j), shape (k,) (Zhang et al.)."""
    w = np.arange(k, 0, -1, dtype=np.float64)
    return w / w.sum()


def mia_features(histories: list[np.ndarray], lists: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Per-user attack features, (B, d) float32.

    ``feature_u = mean_{i in history_u} v_i - sum_j w_j v_{list_u[j]}`` with
    ``w = rank_weights(K)``: the user's interaction centroid minus the
    rank-weighted centroid of the K recommended items (best first).

    Args:
        histories: B item-id arrays (an empty one has a zero centroid).
        lists: int (B, K) recommended items, best first.
        vectors: (N, d) item vectors.
    """
    import scipy.sparse as sp

    B = len(histories)
    lens = np.fromiter((len(h) for h in histories), dtype=np.int64, count=B)
    rows = np.repeat(np.arange(B), lens)
    cols = np.concatenate([np.asarray(h, dtype=np.int64) for h in histories]) if lens.sum() else np.zeros(0, np.int64)
    vals = 1.0 / np.maximum(lens, 1)[rows]
    mean = sp.csr_matrix((vals, (rows, cols)), shape=(B, vectors.shape[0])) @ vectors.astype(np.float64)
    lists = np.asarray(lists, dtype=np.int64)
    center = np.einsum("k,bkd->bd", rank_weights(lists.shape[1]), vectors[lists].astype(np.float64))
    return (np.asarray(mean) - center).astype(np.float32)
