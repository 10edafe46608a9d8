"""Differentially private training (DP-SGD) as a membership-inference defense, through Opacus.

Abadi, Chu, Goodfellow, McMahan, Mironov, Talwar, Zhang, "Deep Learning with Differential
Privacy", CCS 2016 (DP-SGD and the moments accountant); Mironov, "Rényi Differential
Privacy", CSF 2017 (the RDP accountant); Yousefpour et al., "Opacus: User-Friendly
Differential Privacy Library in PyTorch", arXiv 2109.12298 (the implementation used here).
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any

from recsec.defense import Defense
from recsec.params import Param
from recsec.recommender import TrainReport

if TYPE_CHECKING:  # pragma: no cover
    from recsec.context import RunContext
    from recsec.data import Split
    from recsec.recommender import Recommender

ACCOUNTANTS = ("rdp", "prv", "gdp")


class DPSGD(Defense):
    """DP-SGD (Abadi et al., CCS 2016) with Opacus' PrivacyEngine: per-user clipping, Gaussian noise, an (ε, δ) accountant.

    A training-time defense: it trains the victim itself, through Opacus
    (``opacus.PrivacyEngine.make_private``), never a re-implementation. Each step samples
    users by Poisson sampling (rate = ``batch_size`` / training users), clips each user's
    gradient to L2 norm ``max_grad_norm`` (flat clipping over every parameter), sums, adds
    N(0, (``noise_multiplier`` * ``max_grad_norm``)^2) noise and takes the optimizer's step
    (the victim's Adam becomes DP-Adam). One sample is one user (all its training events), so
    the guarantee is user-level, the unit of membership inference: the trained model is
    (ε, δ)-DP with respect to adding or removing one user, ε from ``accountant``
    (``rdp``: Rényi DP, Mironov 2017; ``prv``, ``gdp``: Opacus' alternatives) at ``delta``.
    Any list the service computes from the model and a history is post-processing, so an
    attacker that sees lists (and the history) has TPR <= e^ε FPR + δ at every threshold —
    as long as the service serves members and non-members by the same rule: its most-popular
    fallback for unknown users is a membership test DP does not cover (the popular protocol).

    Victims: recommenders whose ``fit`` accepts ``private=`` (``private_training``; built in:
    ``fism``, the torch factor model; ``lfm`` updates its factors by hand and cannot go
    through Opacus). ``noise_multiplier = 0`` is the clipping-only control (no privacy,
    ε infinite and not stored). Training statistics (stored as ``victim.dp_*``, see
    ``recsec.judges.names``): ``dp_epsilon``, ``dp_delta``, ``dp_noise_multiplier``,
    ``dp_max_grad_norm``, ``dp_sample_rate``, ``dp_steps``. Answers are not changed.
    """

    name = "dp-sgd"
    version = "1"
    trains_victim = True
    params = {
        "noise_multiplier": Param(1.0, help="Gaussian noise std / clipping norm (0: clipping only, no privacy)",
                                  low=0.1, high=5.0, log=True, valid="[0, inf)"),
        "max_grad_norm": Param(1.0, help="per-user gradient clipping norm (L2, flat)", low=0.1, high=10.0, log=True,
                               valid="(0, inf)"),
        "delta": Param(1e-5, help="the δ of the (ε, δ) guarantee (well below 1 / training users)", valid="(0, 1)"),
        "accountant": Param("rdp", choices=ACCOUNTANTS, search=False, help="Opacus privacy accountant"),
    }

    def skip(self, **context: Any) -> str | None:
        rec = context.get("recommender")
        if rec is not None and not getattr(rec, "private_training", False):
            return f"dp-sgd trains recommenders whose fit() takes private= (e.g. fism), not {rec.name}"
        return None

    def train_victim(self, recommender: "Recommender", split: "Split", ctx: "RunContext") -> TrainReport:
        import torch
        from opacus import PrivacyEngine

        reason = self.skip(recommender=recommender)
        if reason:
            raise ValueError(reason)
        wrapped: dict[str, Any] = {}

        def private(module, optimizer, loader):  # type: ignore[no-untyped-def]
            noise = torch.Generator(device="cpu")
            noise.manual_seed(ctx.seed_for(self.name, "noise"))
            out = engine.make_private(module=module, optimizer=optimizer, data_loader=loader,
                                      noise_multiplier=float(self.p.noise_multiplier),
                                      max_grad_norm=float(self.p.max_grad_norm), poisson_sampling=True,
                                      noise_generator=noise)
            wrapped["module"], wrapped["loader"] = out[0], out[2]
            return out

        with warnings.catch_warnings():
            # Opacus' notices (no secure RNG: fine for a benchmark; hooks on inputs without grad) are not results.
            warnings.filterwarnings("ignore", module=r"opacus(\.|$)")
            warnings.filterwarnings("ignore", message="Full backward hook is firing")
            engine = PrivacyEngine(accountant=str(self.p.accountant))
            report = TrainReport.of(recommender.fit(split, ctx, private=private),  # type: ignore[call-arg]
                                    f"recommender {recommender.name!r}: fit()")
        if "module" not in wrapped:
            raise ValueError(f"dp-sgd: {recommender.name}.fit() never called its private= wrapper")
        wrapped["module"].to_standard_module()  # drop the per-sample hooks before serving
        stats = {"dp_delta": float(self.p.delta), "dp_noise_multiplier": float(self.p.noise_multiplier),
                 "dp_max_grad_norm": float(self.p.max_grad_norm),
                 "dp_sample_rate": float(wrapped["loader"].sample_rate),
                 "dp_steps": float(sum(n for _, _, n in engine.accountant.history))}
        if self.p.noise_multiplier > 0:
            eps = float(engine.get_epsilon(float(self.p.delta)))
            if math.isfinite(eps):
                stats["dp_epsilon"] = eps
        return TrainReport({**report.stats, **stats}, init_seed=report.init_seed, curve=report.curve)
