"""Hand-made membership-inference cells on which the leaderboard's ranking rules show.

``chance_cells``: one attack; "below-chance" leaves an AUC of 0.35 (0.15 from chance),
"near-chance" 0.60 (0.10 from chance) for the same utility: ranked by distance from
chance, near-chance dominates below-chance, which a ranking on the raw AUC would put first.
"noise" changes nothing measurable (its protection interval holds 0) but serves a little
more utility by seed noise: it must stay off the front.

``adaptive_cells``: the plain attack and an adaptive one that knows the defense; against
popularity randomization the plain one is at 0.35 but the adaptive one at 0.79, so the
defense is ranked on 0.29 from chance (its strongest known attacker).

``dp_cells``: a differentially private defense named ``noisy-sgd`` (no special name) at three
noise levels, storing ``victim.dp_epsilon`` per seed (mean 8.3 and 2.0) or, with noise
multiplier 0, no ε (ε = ∞); ``list-shuffle`` stores no DP metric at all.

``watermark_cells``: an extraction attack against ``wm-owner`` (a watermark with 50 copies,
judged ``defense.wm_*`` metrics per seed) and ``wm-owner[copies=0]`` (nothing embedded), with
an undefended row to cost them against.
"""

from __future__ import annotations

from typing import Any

SEEDS = (0, 1, 2)


def _cell(i: int, attack: str, defense: str, seed: int, auc: float, ndcg: float,
          extra: dict[str, float] | None = None, x: str = "attack.auc") -> dict[str, Any]:
    return dict(
        id=i, benchmark="rules", dataset="synthetic", recommender="lfm", attack=attack, defense=defense, seed=seed,
        status="done", config={"primary_metric": x, "k": 50},
        metrics={x: auc, "utility.ndcg@10": 0.30 + 0.01 * seed, "defended.ndcg@10": ndcg, **(extra or {})},
        run={"id": 1, "benchmark": "rules", "status": "finished", "spec_path": "/home/someone/recsec/benchmarks/rules.toml",
             "spec_text": 'datasets = ["synthetic"]\n'},
    )


def _rows(table: dict[tuple[str, str], tuple[tuple[float, ...], tuple[float, ...]]],
          extra: dict[str, dict[str, tuple[float, ...]]] | None = None, x: str = "attack.auc") -> list[dict[str, Any]]:
    """Cells of ``table`` ((attack, defense) -> per-seed x values, per-seed NDCG); ``extra``:
    defense -> metric -> per-seed values stored beside them."""
    rows: list[dict[str, Any]] = []
    for (attack, defense), (aucs, ndcgs) in table.items():
        more = (extra or {}).get(defense, {})
        for i, (seed, auc, ndcg) in enumerate(zip(SEEDS, aucs, ndcgs)):
            rows.append(_cell(len(rows) + 1, attack, defense, seed, auc, ndcg, {m: v[i] for m, v in more.items()}, x))
    return rows


def chance_cells() -> list[dict[str, Any]]:
    return _rows({
        ("mia-zhang", "none"): ((0.90, 0.92, 0.91), (0.30, 0.31, 0.29)),
        ("mia-zhang", "below-chance"): ((0.35, 0.36, 0.34), (0.25, 0.26, 0.24)),
        ("mia-zhang", "near-chance"): ((0.60, 0.61, 0.59), (0.25, 0.26, 0.24)),
        ("mia-zhang", "noise"): ((0.90, 0.80, 1.00), (0.32, 0.33, 0.31)),
    })


def adaptive_cells() -> list[dict[str, Any]]:
    plain, adaptive = "mia-zhang", "mia-zhang[adaptive=true]"
    return _rows({
        (plain, "none"): ((0.90, 0.92, 0.91), (0.30, 0.31, 0.29)),
        (adaptive, "none"): ((0.90, 0.92, 0.91), (0.30, 0.31, 0.29)),
        (plain, "popularity-randomization"): ((0.35, 0.36, 0.34), (0.28, 0.29, 0.27)),
        (adaptive, "popularity-randomization"): ((0.78, 0.81, 0.79), (0.28, 0.29, 0.27)),
        (plain, "list-shuffle"): ((0.65, 0.66, 0.64), (0.25, 0.26, 0.24)),
        (adaptive, "list-shuffle"): ((0.70, 0.71, 0.69), (0.25, 0.26, 0.24)),
    })


def dp_cells() -> list[dict[str, Any]]:
    def dp(noise: float, eps: tuple[float, ...] | None) -> dict[str, tuple[float, ...]]:
        out = {"victim.dp_noise_multiplier": (noise,) * 3, "victim.dp_delta": (1e-5,) * 3}
        return {**out, "victim.dp_epsilon": eps} if eps else out

    return _rows({
        ("mia-zhang", "none"): ((0.90, 0.92, 0.91), (0.30, 0.31, 0.29)),
        ("mia-zhang", "noisy-sgd[noise_multiplier=0.0]"): ((0.88, 0.89, 0.90), (0.29, 0.30, 0.28)),
        ("mia-zhang", "noisy-sgd[noise_multiplier=0.5]"): ((0.70, 0.72, 0.71), (0.25, 0.26, 0.24)),
        ("mia-zhang", "noisy-sgd[noise_multiplier=2.0]"): ((0.55, 0.56, 0.54), (0.20, 0.21, 0.19)),
        ("mia-zhang", "list-shuffle"): ((0.65, 0.66, 0.64), (0.22, 0.23, 0.21)),
    }, {
        "noisy-sgd[noise_multiplier=0.0]": dp(0.0, None),
        "noisy-sgd[noise_multiplier=0.5]": dp(0.5, (8.0, 8.3, 8.6)),
        "noisy-sgd[noise_multiplier=2.0]": dp(2.0, (2.0, 2.0, 2.0)),
    })


def watermark_cells() -> list[dict[str, Any]]:
    attack = "dfme"
    return _rows({
        (attack, "none"): ((0.70, 0.72, 0.71), (0.30, 0.31, 0.29)),
        (attack, "wm-owner"): ((0.69, 0.71, 0.70), (0.28, 0.29, 0.27)),
        (attack, "wm-owner[copies=0]"): ((0.70, 0.71, 0.72), (0.30, 0.30, 0.29)),
    }, {
        "wm-owner": {"defense.wm_hr@10": (0.40, 0.50, 0.60), "defense.wm_hr@10_control": (0.05, 0.0, 0.05),
                     "defense.wm_rank": (0.01, 0.02, 0.03), "defense.wm_rank_control": (0.50, 0.48, 0.52),
                     "defense.wm_pvalue": (1e-12, 0.2, 1e-9)},
        "wm-owner[copies=0]": {"defense.wm_hr@10": (0.0, 0.05, 0.0), "defense.wm_hr@10_control": (0.0, 0.0, 0.05),
                               "defense.wm_rank": (0.49, 0.51, 0.50), "defense.wm_rank_control": (0.50, 0.50, 0.49),
                               "defense.wm_pvalue": (1.0, 0.6, 1.0)},
    }, x="attack.agr@10")
