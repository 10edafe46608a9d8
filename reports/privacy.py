"""A row's differential-privacy guarantee, for the privacy-utility curve and the defense column.

A defense that trains the victim with differential privacy stores its accountant's
guarantee with every cell: ``victim.dp_epsilon`` and ``victim.dp_delta`` for an (ε, δ)-DP
victim (DP-SGD: Abadi et al., "Deep Learning with Differential Privacy", CCS 2016), and
``victim.dp_noise_multiplier``. A run with noise multiplier 0 clips gradients but adds
no noise: no guarantee, ε = ∞, and no ε is stored. Any defense whose cells store these
metrics gets a guarantee here, whatever its name; the leaderboard shows it under the
defense and joins its points on the utility-versus-protection chart in order of ε.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

from recsec.metrics import is_number
from recsec.results import CellRecord

from .stats import aggregate
from .summary import metric_value

__all__ = ["EPSILON", "DELTA", "NOISE_MULTIPLIER", "Guarantee", "guarantee", "epsilon_text"]

EPSILON = "victim.dp_epsilon"
DELTA = "victim.dp_delta"
NOISE_MULTIPLIER = "victim.dp_noise_multiplier"


def epsilon_text(epsilon: float) -> str:
    """``ε = 29.8`` (three significant digits, whole numbers from 1,000), ``ε = ∞``."""
    if math.isinf(epsilon):
        return "ε = ∞"
    return f"ε = {epsilon:,.0f}" if epsilon >= 1000 else f"ε = {epsilon:.3g}"


@dataclass(frozen=True)
class Guarantee:
    """The mean ε (``math.inf``: no noise, no guarantee) and δ over ``n`` seeds."""

    epsilon: float
    delta: float | None
    n: int

    @property
    def finite(self) -> bool:
        return math.isfinite(self.epsilon)

    @property
    def text(self) -> str:
        return epsilon_text(self.epsilon)

    @property
    def sort_value(self) -> str:
        """A ``data-epsilon`` attribute: the mean ε as ``repr``, or ``inf``."""
        return repr(self.epsilon) if self.finite else "inf"

    @property
    def title(self) -> str:
        """What the guarantee means, for a tooltip."""
        seeds = f"{self.n} seed{'s' if self.n != 1 else ''}"
        if not self.finite:
            return f"trained with noise multiplier 0 (gradient clipping only): no differential privacy, ε = ∞ ({seeds})"
        delta = f", δ = {self.delta:g}" if self.delta is not None else ""
        return f"({self.text.removeprefix('ε = ')}{delta})-differential privacy of the victim's training, from the accountant; mean over {seeds}"


def guarantee(cells: Iterable[CellRecord]) -> Guarantee | None:
    """The guarantee of a row's done ``cells``: the mean stored ε; ε = ∞ where none stores one
    and every one stores a noise multiplier of 0; None when the cells carry no DP metrics."""
    done = [c for c in cells if c.status == "done"]
    eps = aggregate(metric_value(c, EPSILON) for c in done)
    delta = aggregate(metric_value(c, DELTA) for c in done)
    if eps is not None:
        return Guarantee(eps.mean, delta.mean if delta else None, eps.n)
    noise = [metric_value(c, NOISE_MULTIPLIER) for c in done]
    if noise and all(is_number(v) and float(v) == 0 for v in noise):
        return Guarantee(math.inf, delta.mean if delta else None, len(noise))
    return None
