"""The attack contract.

Metric names stored per cell (flat, dotted; the runner adds the prefixes):
- ``attack.<m>``: what ``Attack.run`` returns (e.g. ``attack.auc``, ``attack.agr@10``);
- ``defense.<m>``: what ``Defense.metrics`` returns (detector AUROC, refusals);
- ``utility.<m>``: the undefended victim on ``split.test`` (``utility.ndcg@10``, ``utility.hr@10``);
- ``defended.<m>``: the same users served through the defended black-box API.

An attack defines its experimental protocol (how the data is split between
the victim and the attacker: ``split``), how the victim is served to it
(``serving``), and runs against the victim through a ``BlackBoxAPI`` only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from .component import Component
from .data import Interactions, Split, leave_one_out

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from .blackbox import BlackBoxAPI
    from .context import AttackContext


class Attack(Component):
    """Base class of every attack.

    Class attributes:
        families: recommender families the attack applies to; ``skip`` uses it.
        metric_directions: metric name -> True when higher is better for the
            attacker; the runner tunes in that direction.
    """

    kind: ClassVar[str] = "attack"
    #: The metric the leaderboard ranks by and ``[tune]`` optimises by default.
    primary_metric: ClassVar[str] = ""
    families: ClassVar[tuple[str, ...]] = ("general", "sequential")
    metric_directions: ClassVar[dict[str, bool]] = {}

    def skip(self, **context: Any) -> str | None:
        rec = context.get("recommender")
        if rec is not None and rec.family not in self.families:
            return f"{self.name} attacks {'/'.join(self.families)} recommenders, not {rec.family} ({rec.name})"
        return None

    def split(self, data: Interactions, rng: "np.random.Generator") -> Split:
        """The protocol: what the victim trains on. Default: leave-one-out by time.

        Override when the attack needs its own partition (membership inference
        needs disjoint shadow and target users). The returned ``Split.key`` must
        change whenever the partition would, since victims are cached by it.
        """
        return leave_one_out(data)

    def split_key(self) -> str:
        """Stable name of ``split``'s protocol, part of the victim cache key."""
        return "loo"

    def serving(self) -> dict[str, Any]:
        """Keyword arguments for the BlackBoxAPI (``k``, ``cold_start``, ``budget``)."""
        return {}

    def run(self, api: "BlackBoxAPI", ctx: "AttackContext") -> dict[str, float]:
        """Run the attack and return its metrics (names in ``metric_directions``)."""
        raise NotImplementedError
