"""The recommender contract: training, scoring, top-k and checkpoints.

Shapes: B = batch of queries, N = catalogue size (``n_items``), K = list length.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from .component import Component
from .queries import Queries

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from .context import RunContext
    from .data import Split


class Recommender(Component):
    """Base class of every recommender.

    Subclasses implement ``fit`` and ``score``; ``topk`` is shared so that
    masking of history items and batching behave the same for every model.

    Class attributes:
        family: ``"general"`` (user-id based, e.g. matrix factorisation) or
            ``"sequential"`` (scores from the item history alone). Attacks and
            defenses use it in ``skip()``.
        stopping_params: parameters that only decide when training stops (an
            epoch cap, patience, a time limit), not what a training step does.
            They stay in the result's hash but not in the key of resumable
            training state, so a run stopped by one of them continues when
            rerun with a larger value instead of starting over.
    """

    kind: ClassVar[str] = "recommender"
    family: ClassVar[str] = "general"
    stopping_params: ClassVar[frozenset[str]] = frozenset()

    def training_identity(self) -> dict[str, Any]:
        """``identity()`` without the ``stopping_params``: what fixes the training trajectory."""
        ident = self.identity()
        ident["params"] = {k: v for k, v in ident["params"].items() if k not in self.stopping_params}
        return ident

    n_items: int = 0
    device: Any = None

    def init_seed_labels(self) -> tuple[str, ...] | None:
        """The labels of the seed ``fit`` draws the first weights under (``ctx.seed_for(*labels)``).

        Called by the runner before an attack, to tell an attacker that
        reproduces the reference code's shared seed (``surrogate_init =
        "reference"``) which seed the victim's run started from. Return None
        when the weights are not drawn from one seed (no weights, a loaded
        checkpoint, a closed-form fit); the default.
        """
        return None

    def fit(self, split: "Split", ctx: "RunContext") -> dict[str, float]:
        """Train on ``split.train`` (``split.valid`` may drive early stopping).

        Returns training statistics to store with the result (e.g. epochs, final loss).
        Must set ``self.n_items``.
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
                scores = self.score(part).float()
                if exclude_history:
                    rows, cols = part.history_mask_indices()
                    if len(rows):
                        scores[torch.as_tensor(rows, device=scores.device), torch.as_tensor(cols, device=scores.device)] = -torch.inf
                out[start : start + len(part)] = torch.topk(scores, k, dim=1).indices.cpu().numpy()
        return out

    # -- checkpoints -----------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Everything needed to restore a trained model (tensors, arrays, plain values)."""
        raise NotImplementedError

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore what ``state()`` returned; the model must then score identically."""
        raise NotImplementedError

    def save(self, path: Path) -> None:
        import torch

        buf = io.BytesIO()
        torch.save(self.state(), buf)
        Path(path).write_bytes(buf.getvalue())

    def load(self, path: Path) -> None:
        import torch

        state = torch.load(Path(path), map_location="cpu", weights_only=False)
        self.load_state(state)

    def to(self, device: Any) -> "Recommender":
        """Move to ``device``; models with torch modules override this."""
        self.device = device
        return self
