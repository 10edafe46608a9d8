"""The attack contract.

An attack declares

- ``protocol()``: how the data is divided between the victim and the attacker
  (``recsec.protocols``; default leave-one-out);
- ``threat_model()``: what it knows beyond the black box (``recsec.threat.ThreatModel``);
- ``serving()``: how the service answers it (list length, cold-start rule, budget);
- ``output``: the type of what ``run`` returns (``recsec.outputs``), which names the judge.

``run(api, ctx)`` attacks through the ``BlackBoxAPI`` with ``ctx.knowledge`` (exactly what
the threat model grants) and returns the output; recsec's judges score it against the
truth it never sees. Metric names: ``recsec.judges.names``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from .component import Component
from .outputs import AttackOutput
from .protocols import LeaveOneOut, Protocol
from .threat import Serving, ThreatModel

if TYPE_CHECKING:  # pragma: no cover
    from .blackbox import BlackBoxAPI
    from .context import AttackContext


class Attack(Component):
    """Base class of every attack.

    Class attributes:
        output: the ``AttackOutput`` subclass ``run`` returns.
        families: recommender families the attack applies to; ``skip`` uses it.
    """

    kind: ClassVar[str] = "attack"
    output: ClassVar[type[AttackOutput]] = AttackOutput
    families: ClassVar[tuple[str, ...]] = ("general", "sequential")

    @property
    def primary_metric(self) -> str:
        """The judged metric leaderboards rank this attack by (from its output's threat)."""
        from .judges.names import PRIMARY

        return PRIMARY.get(self.output.threat, "")

    def skip(self, **context: Any) -> str | None:
        rec = context.get("recommender")
        if rec is not None and rec.family not in self.families:
            return f"{self.name} attacks {'/'.join(self.families)} recommenders, not {rec.family} ({rec.name})"
        return None

    def protocol(self) -> Protocol:
        """The data protocol the victim is trained under; victims are cached by its key."""
        return LeaveOneOut()

    def threat_model(self) -> ThreatModel:
        """What the attack knows beyond the black box; the default: nothing but the catalogue size."""
        return ThreatModel()

    def serving(self) -> Serving:
        """How the black box answers this attack (``k`` None: the spec's)."""
        return Serving()

    def run(self, api: "BlackBoxAPI", ctx: "AttackContext") -> AttackOutput:
        """Attack through ``api`` with ``ctx.knowledge``; return an instance of ``output``."""
        raise NotImplementedError
