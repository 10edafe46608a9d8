"""recsec's judges: the core, not the plugin, scores every cell.

An attack returns an *output* (``recsec.outputs``: a surrogate recommender, membership
scores, polluted profiles); the judge of its threat scores it against the truth the
arena held back (test targets, membership labels, the undefended victim's lists), which
never crosses the plugin boundary. A query detector is judged against benign traffic.
Metric names, prefixes and directions: ``recsec.judges.names``.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import TYPE_CHECKING

from ..blackbox import AccountKind
from ..outputs import MembershipScores, PollutedProfiles, Surrogate

if TYPE_CHECKING:  # pragma: no cover
    from ..arena import Arena
    from ..blackbox import BlackBoxAPI
    from ..defense import Defense
    from ..outputs import AttackOutput
    from ..threat import Knowledge


def judge_output(arena: "Arena", out: "AttackOutput", api: "BlackBoxAPI", knowledge: "Knowledge",
                 defense: "Defense", who: str) -> dict[str, float]:
    """The judged metrics of one attack run: its threat's metrics, the queries it spent, and,
    when the defense detects queries, the detector's metrics on the attacker's traffic."""
    from ..detection import QueryDetector

    if isinstance(out, Surrogate):
        from .extraction import judge_surrogate

        metrics = judge_surrogate(arena, out, api.log, knowledge, who)
        metrics.update(_watermark(arena, defense, out, who))
    elif isinstance(out, MembershipScores):
        from .membership import judge_membership

        metrics = judge_membership(arena, out, who)
    elif isinstance(out, PollutedProfiles):
        from .extraction import judge_surrogate
        from .pollution import judge_pollution

        metrics = judge_surrogate(arena, out.surrogate, api.log, knowledge, who) if out.surrogate is not None else {}
        if out.surrogate is not None:
            metrics.update(_watermark(arena, defense, out.surrogate, who))
        serving = dataclasses.replace(api.serving, budget=None)
        evaluator = arena.serve(AccountKind.EVALUATOR, serving, defense=copy.deepcopy(defense),
                                rng=arena.streams.rng("evaluator", "pollution"), log_queries=False)
        metrics.update(judge_pollution(arena, out, knowledge.pollution(), evaluator, who))
    else:  # pragma: no cover - Arena.attack checks the type first
        raise TypeError(type(out).__name__)
    metrics["attack.queries"] = float(api.queries_used)
    if isinstance(defense, QueryDetector):
        from .detection import judge_detection

        metrics.update(judge_detection(arena, defense, api.log))
    return metrics


def _watermark(arena: "Arena", defense: "Defense", surrogate: Surrogate, who: str) -> dict[str, float]:
    """Ownership verification of a stolen model when the deployed defense embeds a watermark
    (``recsec.judges.watermark``): the judge reads the defense's secret, the defense scores nothing."""
    from .watermark import Watermarked, judge_watermark

    key = defense.watermark() if isinstance(defense, Watermarked) else None
    if key is None:
        return {}
    return judge_watermark(key, surrogate.model, arena.victim, arena.n_items, who)
