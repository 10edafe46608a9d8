"""Membership-inference attack features (numpy only): item vectors and per-user features.

Follows Zhang et al., "Membership Inference Attacks Against Recommender
Systems" (CCS 2021, arXiv 2109.08045): item vectors from a matrix
factorisation of the public embedding users; a user's feature is the mean
vector of the items it interacted with minus the rank-weighted centroid of
the items recommended to it. The user partition is core's
``recsec.protocols.Membership``.
"""

from __future__ import annotations

import numpy as np

from recsec.data import Interactions

#: Largest users x items matrix factorised densely (LAPACK); larger ones use sparse ARPACK.
DENSE_SVD_LIMIT = 20_000_000


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


def history_centroids(histories: list[np.ndarray], vectors: np.ndarray) -> np.ndarray:
    """Mean item vector of each history, (B, d) float64 (an empty history: zeros)."""
    import scipy.sparse as sp

    B = len(histories)
    lens = np.fromiter((len(h) for h in histories), dtype=np.int64, count=B)
    rows = np.repeat(np.arange(B), lens)
    cols = np.concatenate([np.asarray(h, dtype=np.int64) for h in histories]) if lens.sum() else np.zeros(0, np.int64)
    vals = 1.0 / np.maximum(lens, 1)[rows]
    return np.asarray(sp.csr_matrix((vals, (rows, cols)), shape=(B, vectors.shape[0])) @ vectors.astype(np.float64))


def list_centroids(lists: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Rank-weighted centroid ``sum_j w_j v_{list[j]}`` of each list, (B, d) float64 (``rank_weights``)."""
    lists = np.asarray(lists, dtype=np.int64)
    return np.einsum("k,bkd->bd", rank_weights(lists.shape[1]), vectors[lists].astype(np.float64))


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
    return (history_centroids(histories, vectors) - list_centroids(lists, vectors)).astype(np.float32)


def list_similarity(histories: list[np.ndarray], lists: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Cosine between each history's centroid and its list's rank-weighted centroid, float64 (B,)
    (0 where either centroid is the zero vector): how closely a list follows the history."""
    h, c = history_centroids(histories, vectors), list_centroids(lists, vectors)
    norm = np.linalg.norm(h, axis=1) * np.linalg.norm(c, axis=1)
    return np.where(norm > 0, (h * c).sum(axis=1) / np.where(norm > 0, norm, 1.0), 0.0)


def standardise(fit: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both feature matrices scaled by ``fit``'s column means and standard deviations (the shadow
    side's: the attacker fits its scaling on data it labelled); constant columns are left unscaled."""
    mu, sd = fit.mean(axis=0), fit.std(axis=0)
    sd = np.where(sd > 1e-12, sd, 1.0)
    return (fit - mu) / sd, (other - mu) / sd
