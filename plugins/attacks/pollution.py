"""Profile pollution through an extracted surrogate (Yue et al., RecSys 2021, downstream attack).

Yue, He, Zeng, McAuley, "Black-Box Attacks on Sequential Recommenders via
Data-Free Model Extraction", RecSys 2021: the surrogate stolen by model
extraction is white-box, so adversarial items can be searched on it by
gradients and then transferred to the black box. Implementation (torch) in
``_pollution`` and ``_extraction_*``; this module imports no torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from recsec.outputs import PollutedProfiles
from recsec.params import Param
from recsec.threat import PollutionTask, ThreatModel

from ._extraction_params import EXTRACTION_PARAMS, FEWSHOT_PARAMS
from .extraction import _Extraction

if TYPE_CHECKING:  # pragma: no cover
    from recsec.blackbox import BlackBoxAPI
    from recsec.context import AttackContext

MODES = {"dfme-autoregressive": "autoregressive", "dfme-random": "random", "fewshot-extraction": "fewshot"}


class ProfilePollution(_Extraction):
    """Profile pollution (Yue et al., RecSys 2021): append surrogate-searched items to raise a target's rank.

    Step 1: extract a surrogate as the attack named by ``extraction`` (same
    parameters, budget ``max_queries``). Step 2: the arena assigns ``n_targets``
    target items spread over popularity and the histories of ``n_users`` real test
    users (its threat model grants them: the attacker pollutes those sessions); for
    each target and each user who does not hold it yet, ``n_append`` items are found
    by a gradient-guided greedy search on the surrogate (see ``_pollution``). The
    judge serves the original, the polluted and randomly polluted histories through
    the defended service and reports the targets' NDCG@10, HR@10 and rank before
    and after (``attack.target_*``) and the surrogate's extraction metrics.
    Diagnostics: the surrogate's own view of the targets' ranks.
    """

    name = "profile-pollution"
    version = "2"  # 2: judged by recsec; the judge's measurement queries no longer spend the budget
    output = PollutedProfiles
    params = {
        **EXTRACTION_PARAMS,
        **FEWSHOT_PARAMS,
        "extraction": Param("dfme-autoregressive", "how the surrogate is extracted", choices=tuple(MODES)),
        "n_targets": Param(10, "target items, spread over popularity", low=1, high=100, valid="[1, inf)"),
        "n_users": Param(500, "real test users polluted per target", low=10, high=100000, log=True, valid="[1, inf)"),
        "n_append": Param(5, "items appended to each history", low=1, high=20, valid="[1, inf)"),
        "n_candidates": Param(8, "candidates tried exactly per slot (ranked by the gradient)", low=1, high=64, log=True, valid="[1, inf)"),
        "n_rounds": Param(1, "greedy sweeps over the appended slots", low=1, high=5, valid="[1, inf)"),
        "pollution_batch": Param(128, "users searched together", valid="[1, inf)"),
    }

    def threat_model(self) -> ThreatModel:
        return ThreatModel(algorithm=self.p.surrogate == "same", init_seed=self.p.surrogate_init == "reference",
                           real_fraction=float(self.p.real_fraction) if self.p.extraction == "fewshot-extraction" else 0.0,
                           pollution=PollutionTask(int(self.p.n_targets), int(self.p.n_users), int(self.p.n_append)))

    def run(self, api: "BlackBoxAPI", ctx: "AttackContext") -> PollutedProfiles:
        from ._pollution import run_pollution

        return run_pollution(api, ctx, self.p, MODES[self.p.extraction])
