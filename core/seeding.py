"""Every random source in recsec derives from the cell's seed and a label.

The DFME reference code seeds the surrogate with the victim's seed, so a
same-architecture surrogate starts from the victim's weights (methods.md
section 7). Deriving each stream from (seed, label) keeps them independent.
"""

from __future__ import annotations

import hashlib
import random

import numpy as np


def derive_seed(seed: int, *labels: object) -> int:
    """A 63-bit seed for the stream named by ``labels`` under ``seed``."""
    h = hashlib.sha256(repr((int(seed),) + tuple(str(x) for x in labels)).encode()).digest()
    return int.from_bytes(h[:8], "little") & ((1 << 63) - 1)


def numpy_rng(seed: int, *labels: object) -> np.random.Generator:
    return np.random.default_rng(derive_seed(seed, *labels))


def seed_global(seed: int) -> None:
    """Seed the global generators too (libraries that use them internally)."""
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def torch_generator(seed: int, *labels: object, device: str = "cpu"):
    import torch

    g = torch.Generator(device=device)
    g.manual_seed(derive_seed(seed, *labels))
    return g
