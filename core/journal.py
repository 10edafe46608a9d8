"""The victim's answers to an attack, kept on disk so an interrupted attack resumes cheaply.

An extraction at a paper's budget sends a million queries; on a CPU the victim's
forward passes are hours of it. The black box writes every batch of the victim's
own (undefended) lists to an ``AnswerJournal`` under the cell's attack folder, keyed
by a hash of the batch. A rerun of the cell replays the attack from the start: its
generation is seeded, so it sends the same batches, and the victim's lists come from
the journal instead of a forward pass. Everything else runs live exactly as before:
the budget is counted, the defense sees every batch (a stateful defense, a detector
or a per-call permutation, stays exactly on its uninterrupted trajectory) and every
query is logged for the judges. The journal is a cache of a pure function of the
trained victim; the attack never sees it. Files are ``.npy`` arrays read with
``allow_pickle=False``: data, never code.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from .queries import Queries


def batch_digest(queries: Queries, k: int, exclude_history: bool) -> str:
    """sha256 over what the victim's answer depends on: histories, user ids, ``k``, history rule."""
    h = hashlib.sha256(f"{k}:{int(exclude_history)}:{len(queries)}".encode())
    lengths = np.asarray([len(x) for x in queries.histories], dtype=np.int64)
    h.update(lengths.tobytes())
    if len(lengths):
        h.update(np.concatenate([np.asarray(x, dtype=np.int64) for x in queries.histories]).tobytes())
    h.update(np.asarray(queries.user_ids(), dtype=np.int64).tobytes())
    return h.hexdigest()


class AnswerJournal:
    """The victim's lists for batches of queries, one ``.npy`` file per batch under ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.replayed = 0  # queries answered from the journal in this process

    def _path(self, digest: str) -> Path:
        return self.folder / f"{digest}.npy"

    def get(self, queries: Queries, k: int, exclude_history: bool) -> np.ndarray | None:
        """The stored lists (int64 (B, k)) for this batch, or None (unknown, unreadable or of the wrong shape)."""
        path = self._path(batch_digest(queries, k, exclude_history))
        try:
            lists = np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            return None
        if lists.shape != (len(queries), k) or lists.dtype.kind not in "iu":
            return None
        self.replayed += len(queries)
        return lists.astype(np.int64)

    def put(self, queries: Queries, k: int, exclude_history: bool, lists: np.ndarray) -> None:
        """Store the lists of this batch (int32 on disk: item ids fit, half the bytes)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self._path(batch_digest(queries, k, exclude_history))
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npy")
        np.save(tmp, np.asarray(lists, dtype=np.int32), allow_pickle=False)
        tmp.replace(path)
