"""A recommender that ends its process while it trains, as an OOM kill, a segfault or a stray
``os._exit`` in native code would: no exception, no ``finally``, nothing the runner can catch."""

from __future__ import annotations

import os
import signal

from recsec.hookspecs import hookimpl
from recsec.params import Param
from recsec.testing.checks import _Popularity

MODES = ("ok", "kill", "exit", "interrupt")


class DyingPopular(_Popularity):
    """Most-popular victim whose ``fit`` dies as ``mode`` says."""

    name = "dying-popular"
    params = {"mode": Param("ok", help="how fit() ends the process", choices=MODES)}

    def fit(self, split, ctx):
        if self.p.mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)  # what the OOM killer sends
        if self.p.mode == "exit":
            os._exit(7)
        if self.p.mode == "interrupt":
            raise KeyboardInterrupt  # the plugin's own, not the user's Ctrl-C
        return super().fit(split, ctx)


@hookimpl
def recsec_register_recommenders(registry):
    registry.add_recommender(DyingPopular)
