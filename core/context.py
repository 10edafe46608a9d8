"""What the runner hands to components while a cell runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from .seeding import derive_seed

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from .data import Split
    from .recommender import Recommender


@dataclass
class RunContext:
    """Shared by every call a component receives during one cell.

    Attributes:
        seed: the cell's seed; derive streams with ``ctx.rng("label")``.
        device: torch device to compute on.
        progress: show progress bars (off in tests and when not a terminal).
        work_dir: where a component may write artifacts (checkpoints, caches).
        log: one-line status messages (shown above progress bars).

    Creating one on the CPU switches on torch's deterministic kernels for the process.
    """

    seed: int
    device: "torch.device"
    progress: bool = False
    work_dir: Path | None = None
    log: Callable[[str], None] = field(default=lambda msg: None)

    def __post_init__(self) -> None:
        # Process-wide: on the CPU, torch's deterministic kernels, so one seed gives one result
        # however many threads add up gradients (see recsec.device.use_deterministic_kernels).
        from .device import use_deterministic_kernels

        if self.device is not None:
            use_deterministic_kernels(self.device)

    def rng(self, *labels: object) -> np.random.Generator:
        """A numpy generator for the stream ``labels`` of this cell."""
        return np.random.default_rng(derive_seed(self.seed, *labels))

    def seed_for(self, *labels: object) -> int:
        return derive_seed(self.seed, *labels)

    def torch_generator(self, *labels: object) -> "torch.Generator":
        import torch

        g = torch.Generator(device="cpu")
        g.manual_seed(derive_seed(self.seed, *labels))
        return g


@dataclass
class AttackContext(RunContext):
    """A RunContext plus what the threat model lets the attack know.

    Attributes:
        split: the victim's split. Attacks take only what their threat model
            grants from it (each attack's docstring says what), and use its
            ground truth only to score themselves.
        n_items: catalogue size (item ids are 0..n_items-1).
        victim_factory: builds an untrained recommender of the victim's type and
            parameters (the "attacker knows the algorithm" assumption of shadow
            training); never the victim's weights.
        reference_topk: ``(queries, k) -> int64 (B, k)``: the undefended
            victim's true lists, outside the budget and the defense. For scoring
            only (agreement of a stolen model with the real one); an attack must
            never learn from it.
        victim_init_seed: the seed the victim's run drew its first network
            under (``Defense.init_seed_labels``), or None. Only for an attack
            that reproduces the reference code's fault of seeding the
            surrogate with it (``surrogate_init = "reference"``); never weights.
        extras: anything else the runner provides (documented where used).
    """

    split: "Split | None" = None
    n_items: int = 0
    victim_factory: "Callable[[], Recommender] | None" = None
    reference_topk: "Callable[[Any, int], Any] | None" = None
    victim_init_seed: int | None = None
    extras: dict[str, Any] = field(default_factory=dict)
