"""A defense: a per-account query quota, after which lists are cut short.

A rate limit is the first line of defense of a deployed service against model
extraction, which needs many queries (Yue et al., RecSys 2021, spend thousands): each
account gets ``quota`` full lists, then only the top ``short_k`` items of each list.
It shows the contract's three moving parts: state kept per opaque ``Caller``, lists
shortened with -1 padding (``shortens_lists``) and per-query flags.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from recsec.blackbox import Caller
from recsec.context import RunContext
from recsec.data import Split
from recsec.defense import Defense
from recsec.params import Param
from recsec.queries import Queries
from recsec.recommender import Recommender


class Throttle(Defense):
    """Per-account quota: ``quota`` full lists per account, then the top ``short_k`` items only.

    A query past the quota is flagged. Every account is treated alike (a defense never
    learns who asks), so benign users who ask less than ``quota`` times lose nothing;
    an attacker who spreads its queries over many accounts (sybils) is not slowed down.
    """

    name = "throttle"
    version = "1"
    shortens_lists = True  # rows may end in -1 (or be all -1 when short_k = 0)
    params = {
        "quota": Param(100, help="full lists per account", low=10, high=10000, log=True, valid="[0, inf)"),
        "short_k": Param(1, help="items per list once the quota is spent (0: refuse)", valid="[0, inf)"),
    }

    def __init__(self, **given: Any) -> None:
        super().__init__(**given)
        self._served: dict[str, int] = {}  # Caller.id -> queries answered so far

    def prepare(self, victim: Recommender, split: Split, ctx: RunContext) -> None:
        self._served.clear()  # a freshly deployed service: no account has asked yet

    def answer(self, queries: Queries, lists: np.ndarray, personalised: np.ndarray, account: Caller,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        used = self._served.get(account.id, 0)
        self._served[account.id] = used + len(queries)
        over = used + np.arange(len(queries)) >= int(self.p.quota)  # this account's n-th query
        out = lists.copy()  # never write into the arrays you are handed
        out[over, int(self.p.short_k):] = -1  # a shortened list keeps its best items, then pads
        return out, over
