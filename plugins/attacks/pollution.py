"""Profile pollution through an extracted surrogate (Yue et al., RecSys 2021, downstream attack).

Yue, He, Zeng, McAuley, "Black-Box Attacks on Sequential Recommenders via
Data-Free Model Extraction", RecSys 2021: the surrogate stolen by model
extraction is white-box, so adversarial items can be searched on it by
gradients and then transferred to the black box. Implementation (torch) in
``_pollution`` and ``_extraction_*``; this module imports no torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from recsec.params import Param

from .extraction import DIRECTIONS, EXTRACTION_PARAMS, FEWSHOT_PARAMS, _Extraction

if TYPE_CHECKING:  # pragma: no cover
    from recsec.blackbox import BlackBoxAPI
    from recsec.context import AttackContext

MODES = {"dfme-autoregressive": "autoregressive", "dfme-random": "random", "fewshot-extraction": "fewshot"}


class ProfilePollution(_Extraction):
    """Profile pollution (Yue et al., RecSys 2021): append surrogate-searched items to raise a target's rank.

    Step 1: extract a surrogate as the attack named by ``extraction`` (same
    parameters). Step 2: for ``n_targets`` target items spread over
    popularity (one per popularity stratum of the training data, seeded) and
    ``n_users`` real test users (seeded; users who already interacted with
    the target are left out for it), append ``n_append`` items found by a
    gradient-guided greedy search on the surrogate (see ``_pollution``), and
    query the black box with the original and the polluted histories. Metrics:
    the targets' mean NDCG@10 / HR@10 in the victim's lists before and after
    (``target_ndcg@10_before`` / ``_after``, ``target_hr@10_*``), the same
    with ``n_append`` random items (``_random``), the surrogate's own view
    (``surrogate_target_*``) and the extraction metrics. The API budget is
    ``max_queries`` for the extraction plus the pollution queries
    (``n_users * (1 + n_targets * (1 + random_baseline))``).
    """

    name = "profile-pollution"
    version = "1"
    primary_metric: ClassVar[str] = "target_ndcg@10_after"
    metric_directions: ClassVar[dict[str, bool]] = {
        **DIRECTIONS, "target_ndcg@10_after": True, "target_hr@10_after": True,
    }
    params = {
        **EXTRACTION_PARAMS,
        **FEWSHOT_PARAMS,
        "extraction": Param("dfme-autoregressive", "how the surrogate is extracted", choices=tuple(MODES)),
        "n_targets": Param(10, "target items, spread over popularity", low=1, high=100),
        "n_users": Param(500, "real test users polluted per target", low=10, high=100000, log=True),
        "n_append": Param(5, "items appended to each history", low=1, high=20),
        "n_candidates": Param(8, "candidates tried exactly per slot (ranked by the gradient)", low=1, high=64, log=True),
        "n_rounds": Param(1, "greedy sweeps over the appended slots", low=1, high=5),
        "pollution_batch": Param(128, "users searched together"),
        "random_baseline": Param(True, "also query with random appended items (baseline)"),
    }

    def budget(self) -> int | None:
        b = self.p["max_queries"]
        if not b:
            return None
        per_target = 1 + int(self.p["random_baseline"])
        return int(b) + self.p["n_users"] * (1 + self.p["n_targets"] * per_target)

    def run(self, api: "BlackBoxAPI", ctx: "AttackContext") -> dict[str, float]:
        from ._pollution import run_pollution

        p: dict[str, Any] = dict(self.p)  # the extraction phase is capped at max_queries (CappedAPI)
        return run_pollution(api, ctx, p, MODES[p["extraction"]])
