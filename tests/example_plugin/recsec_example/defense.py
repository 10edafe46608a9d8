"""An output-perturbation defense: shuffle each list within blocks."""

import numpy as np

from recsec.defense import Defense
from recsec.params import Param


class BlockShuffle(Defense):
    """Shuffles the items of each list within consecutive blocks of ``block`` positions.

    The set of items in each block is kept, so a top-``block`` list is exact and only the
    order inside a block is lost: a cheap way to blur the ranks an extraction attack learns.
    """

    name = "block-shuffle"
    version = "1"
    params = {"block": Param(5, help="positions per block", low=2, high=50, valid="[1, inf)")}

    def answer(self, queries, lists, personalised, account, rng):
        out = lists.copy()
        b = int(self.p.block)
        for start in range(0, lists.shape[1], b):
            part = out[:, start : start + b]
            order = np.argsort(rng.random(part.shape), axis=1)
            out[:, start : start + b] = np.take_along_axis(part, order, axis=1)
        return out, np.zeros(len(lists), dtype=bool)
