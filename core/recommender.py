"""The recommender contract: training, scoring, top-k and checkpoints.

Shapes: B = batch of queries, N = catalogue size (``n_items``), K = list length.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from .component import Component
from .errors import PluginOutputError
from .queries import Queries

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from .context import RunContext
    from .data import Split


@dataclass
class TrainReport:
    """What training returns (``Recommender.fit``, ``Defense.train_victim``); the arena reads it.

    Attributes:
        stats: training statistics, stored as ``victim.<name>`` (epochs, times, losses).
        init_seed: the seed the run drew its first weights under, when it drew them from
            one (None for closed-form fits and loaded weights). Handed to an attack only
            when its threat model reproduces the reference code's shared-seed fault.
        curve: one row per epoch (``epoch``, ``loss``, validation metrics...), for reports.
    """

    stats: dict[str, float] = field(default_factory=dict)
    init_seed: int | None = None
    curve: list[dict[str, float]] = field(default_factory=list)

    @classmethod
    def of(cls, value: "TrainReport | dict[str, Any] | None", who: str) -> "TrainReport":
        """A report from what a plugin returned: a TrainReport, a dict of statistics, or None."""
        from .validation import check_numbers

        if value is None:
            return cls()
        if isinstance(value, dict):
            return cls(stats=check_numbers(value, who, finite=False))
        if not isinstance(value, TrainReport):
            raise PluginOutputError(f"{who}: return a TrainReport or a dict of statistics, not {type(value).__name__}")
        if value.init_seed is not None and (isinstance(value.init_seed, bool) or not isinstance(value.init_seed, int)):
            raise PluginOutputError(f"{who}: TrainReport.init_seed must be an int or None")
        return cls(check_numbers(value.stats, who, finite=False), value.init_seed, list(value.curve))


class Recommender(Component):
    """Base class of every recommender.

    Subclasses implement ``fit`` and ``score``; ``topk`` is shared so that
    masking of history items and batching behave the same for every model.

    Class attributes:
        family: ``"general"`` (user-id based, e.g. matrix factorisation) or
            ``"sequential"`` (scores from the item history alone). Attacks and
            defenses use it in ``skip()``.

    Parameters that only decide when training stops (an epoch cap, patience, a time
    limit) are declared ``Param(..., stopping=True)``: they stay in the result's hash but
    not in the key of resumable training state, so a run stopped by one of them
    continues when rerun with a larger value instead of starting over.
    """

    kind: ClassVar[str] = "recommender"
    family: ClassVar[str] = "general"

    n_items: int = 0
    device: Any = None

    def fit(self, split: "Split", ctx: "RunContext") -> "TrainReport | dict[str, float]":
        """Train on ``split.train`` (``split.valid`` may drive early stopping).

        Returns a ``TrainReport`` (or just a dict of training statistics such as epochs and
        the final loss). Must set ``self.n_items``.
        """
        raise NotImplementedError

    def score(self, queries: Queries) -> "torch.Tensor":
        """Scores of every item for each query: float tensor (B, N), higher is better.

        Known users (``queries.users[i] >= 0`` and ``knows``) may use per-user
        state; others are scored from their history (fold-in).
        """
        raise NotImplementedError

    def knows(self, users: np.ndarray) -> np.ndarray:
        """Bool (B,): which user ids this model holds per-user state for (members)."""
        return np.zeros(len(users), dtype=bool)

    # -- serving ---------------------------------------------------------------------------------

    def topk(self, queries: Queries, k: int, exclude_history: bool = True, batch_size: int = 512) -> np.ndarray:
        """Top-``k`` item ids per query, int64 (B, K), best first.

        Scoring runs in batches on the model's device; history items are
        masked in one scatter, never in a Python loop per query.
        """
        import torch

        k = min(k, self.n_items)
        out = np.empty((len(queries), k), dtype=np.int64)
        with torch.no_grad():
            for start in range(0, len(queries), batch_size):
                part = queries.slice(start, start + batch_size)
                scores = self._checked_scores(part)
                if exclude_history:
                    rows, cols = part.history_mask_indices()
                    if len(rows):
                        scores[torch.as_tensor(rows, device=scores.device), torch.as_tensor(cols, device=scores.device)] = -torch.inf
                out[start : start + len(part)] = torch.topk(scores, k, dim=1).indices.cpu().numpy()
        return out

    def _checked_scores(self, queries: Queries) -> "torch.Tensor":
        """``score`` as float (B, N), with its contract checked (shape, no NaN)."""
        import torch

        scores = self.score(queries)
        if not isinstance(scores, torch.Tensor) or tuple(scores.shape) != (len(queries), self.n_items):
            shape = tuple(scores.shape) if hasattr(scores, "shape") else type(scores).__name__
            raise PluginOutputError(f"recommender {self.name!r}: score() must return a tensor of shape "
                                    f"({len(queries)}, {self.n_items}), got {shape}")
        scores = scores.float()
        if bool(torch.isnan(scores).any()):
            raise PluginOutputError(f"recommender {self.name!r}: score() returned NaN; check training "
                                    "(a diverged loss) or the parameters")
        return scores

    # -- checkpoints -----------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Everything needed to restore a trained model (tensors, arrays, plain values)."""
        raise NotImplementedError

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore what ``state()`` returned; the model must then score identically."""
        raise NotImplementedError

    def save(self, path: Path) -> None:
        """Write ``state()`` as a checkpoint that loads as data only (``recsec.safefiles``)."""
        from . import safefiles

        try:
            data = safefiles.dumps(self.state())
        except TypeError as exc:
            raise PluginOutputError(f"recommender {self.name!r}: state() cannot be saved: {exc}") from None
        Path(path).write_bytes(data)

    def load(self, path: Path) -> None:
        """Restore a checkpoint written by ``save`` (read with ``weights_only=True``: never code)."""
        from . import safefiles

        self.load_state(safefiles.load(Path(path)))

    def to(self, device: Any) -> "Recommender":
        """Move to ``device``; models with torch modules override this."""
        self.device = device
        return self
