"""What the arena hands to components while a cell runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from .seeding import derive_seed

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from .threat import Knowledge


@dataclass
class RunContext:
    """Shared by every call a component receives during one cell.

    Attributes:
        seed: the seed of the component's stream (``recsec.streams``); derive sub-streams
            with ``ctx.rng("label")`` / ``ctx.seed_for("label")``.
        device: torch device to compute on.
        progress: show progress bars (off in tests and when not a terminal).
        work_dir: where a component may keep resumable state (one folder per victim
            training trajectory).
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
        """A numpy generator for the stream ``labels`` of this context."""
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
    """A RunContext plus exactly what the attack's threat model grants (``knowledge``)."""

    knowledge: "Knowledge | None" = None
