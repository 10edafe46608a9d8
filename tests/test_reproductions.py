"""The reproductions page: published headlines matched to stored cells, verdicts, rendering."""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Any

import pytest

from recsec.judges import names
from recsec.reports import render_site
from recsec.reports.published import HEADLINES
from recsec.reports.reproductions import Reproduction, build_reproductions, match, verdict
from recsec.reports.stats import Agg
from recsec.reports.verdicts import (
    ABOVE,
    EXCEEDS,
    INCONCLUSIVE,
    LARGER,
    NO_COUNTERPART,
    NO_EFFECT,
    NOT_RUN,
    OPPOSITE,
    REPRODUCED,
    SMALLER,
    judge_cost,
    judge_effect,
    judge_level,
    seeds_for,
)
from recsec.results import from_rows

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = "<script>alert(1)</script>\"'&../../etc/passwd"

DFME_BEAUTY = dict(
    dataset=("amazon-beauty-bert4rec", {}),
    recommender=("narm", {"max_len": 50}),
    attack=("dfme-autoregressive", {"n_sequences": 5000, "seq_len": 50}),
    defense=("none", {}),
)
#: What the attack stores about a surrogate that ran out of patience (converged) or hit its time cap.
CONVERGED = {"diag.epochs": 45.0, "diag.best_epoch": 25.0, "diag.converged": 1.0}
CAPPED = {"diag.epochs": 45.0, "diag.best_epoch": 44.0, "diag.converged": 0.0}
#: GRO's reference Beauty recipe: the larger catalogue, warm start, 50 epochs at batch 16, last epoch served.
GRO_BEAUTY = dict(
    dataset=("amazon-beauty-bert4rec", {}),
    recommender=("bert4rec", {"max_len": 50, "checkpoint": "victim.pt", "batch_size": 16, "max_epochs": 50,
                              "restore": "last"}),
    attack=("dfme-autoregressive", {"n_sequences": 3000, "seq_len": 50}),
)
NONE, CONTROL, GRO = ("none", {}), ("gro", {"lam": 0.0}), ("gro", {"lam": 0.001})


def _instance(name: str, params: dict[str, Any]) -> str:
    return name + (f"[{','.join(f'{k}={v}' for k, v in params.items())}]" if params else "")


class _Rows:
    """Cell dicts as the database stores them: instance columns, full parameters in ``config``."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(self, seed: int, metrics: dict[str, float], status: str = "done", benchmark: str = "repro",
            diagnostics: dict[str, float] | None = None, **components: tuple[str, dict[str, Any]]) -> None:
        config: dict[str, Any] = {"seed": seed, "k": 100, "benchmark": benchmark}
        row: dict[str, Any] = dict(id=len(self.rows) + 1, benchmark=benchmark, seed=seed, status=status, metrics=metrics,
                                   diagnostics=diagnostics or {})
        for kind, (name, params) in components.items():
            # the instance names only the parameters a spec would set; config holds them all
            row[kind] = _instance(name, {k: v for k, v in params.items() if k != "max_len"})
            config[kind] = {"name": name, "version": "1", "params": params}
        row["config"] = config
        row["run"] = {"id": 1, "benchmark": benchmark, "spec_path": "spec.toml"}
        self.rows.append(row)

    def judge(self) -> dict[str, Reproduction]:
        return {r.headline.id: r for r in build_reproductions(from_rows(self.rows).cells, HEADLINES)}


def _dfme(rows: _Rows, values: list[float], diagnostics: dict[str, float] = CONVERGED, **overrides: Any) -> None:
    for seed, v in enumerate(values):
        rows.add(seed, {"attack.agr@10": v, "attack.agr@10_unmasked": v + 0.01}, diagnostics=diagnostics,
                 **{**DFME_BEAUTY, **overrides})


def _gro(rows: _Rows, defense: tuple[str, dict[str, Any]], values: dict[int, float], **metrics: float) -> None:
    for seed, v in values.items():
        rows.add(seed, {"attack.hr@10_unmasked": v, "attack.agr@10": 0.5 + v, **metrics}, **GRO_BEAUTY, defense=defense)


# --------------------------------------------------------------------------- the registry


def test_registry_names_only_stored_metrics_and_real_specs() -> None:
    ids = [h.id for h in HEADLINES]
    assert len(ids) == len(set(ids))
    for h in HEADLINES:
        for metric in (h.metric, h.baseline_metric, *h.also):
            assert not metric or metric in names.CATALOG, (h.id, metric)
        for spec in (*h.specs, *(s.spec for s in h.stand_ins)):
            assert (ROOT / spec).is_file(), (h.id, spec)
        assert h.paper and h.claim
        if h.kind == "paired":
            assert h.expected_sign in (1, -1) and h.margin > 0  # every effect claim declares δ and its direction
        if h.kind == "cost":
            assert h.bound is not None and h.bounds
    by_id = {h.id: h for h in HEADLINES}
    assert by_id["dfme-ml1m-narm"].published == 0.747 and by_id["dfme-beauty-bert4rec"].published == 0.291
    assert by_id["gro-ml1m-surrogate"].published == pytest.approx(-0.0232) and by_id["gro-ml1m-surrogate"].margin == 0.01
    assert by_id["gro-ml1m-target"].bound == pytest.approx(0.104)
    assert dict((v, k) for k, v in by_id["gro-ml1m-target"].bounds)[0.154].startswith("as first posted")
    assert by_id["mia-lfm-ml-latest-small"].metric == "attack.balanced_accuracy"
    assert by_id["fewshot-beats-datafree"].metric == "attack.agr@10_unseen"


def test_matcher_reads_stored_params_then_instance_name() -> None:
    rows = _Rows()
    rows.add(0, {}, dataset=("d", {}), recommender=("r", {}), attack=("gro", {"lam": 0.001}), defense=("none", {}))
    (cell,) = from_rows(rows.rows).cells
    assert match("gro", lam=0.001).matches(cell.attack) and not match("gro", lam=0.0).matches(cell.attack)
    assert not match("gro", exclude={"lam": 0.001}).matches(cell.attack)
    bare = from_rows([dict(id=1, benchmark="b", dataset="d", recommender="r", attack="gro[lam=0.1]", defense="none")]).cells[0]
    assert match("gro", lam=0.1).matches(bare.attack) and match("gro", exclude={"lam": 0.0}).matches(bare.attack)
    assert not match("gro", other=1).matches(bare.attack)  # a parameter the cell does not have never matches


# --------------------------------------------------------------------------- the rule on aggregates


def test_level_rule_reads_the_t_interval() -> None:
    # sd 0.005 over 3 seeds: t(0.975, 2) = 4.303, half-width 0.0124 -> [0.4176, 0.4424] inside 0.425 ± 0.03
    j = judge_level(Agg(0.43, 0.005, 3), 0.425, 0.03)
    assert j.verdict == REPRODUCED and j.ci == pytest.approx((0.43 - 0.012422, 0.43 + 0.012422), abs=1e-5)
    assert judge_level(Agg(0.51, 0.01, 3), 0.425, 0.03).verdict == ABOVE
    # the MIA reference recipe over 5 seeds (0.917, 0.907, 0.971, 0.500, 0.711): the interval holds 0.857 but is
    # far wider than the tolerance: inconclusive, not "not reproduced"; the seeds needed are said
    seeds = [0.917, 0.907, 0.971, 0.500, 0.711]
    j = judge_level(Agg(statistics.fmean(seeds), statistics.stdev(seeds), 5), 0.857, 0.03)
    assert j.verdict == INCONCLUSIVE and j.ci[0] < 0.857 < j.ci[1] and j.seeds_needed > 5
    assert judge_level(Agg(0.43, 0.001, 2), 0.425, 0.03).verdict == INCONCLUSIVE  # two seeds never decide


def test_effect_rule_compares_the_magnitude_not_only_the_sign() -> None:
    # GRO Beauty: published -0.52 points, δ 0.25 points
    p, d = -0.0052, 0.0025
    assert judge_effect(Agg(-0.0050, 0.0002, 3), p, -1, d).verdict == REPRODUCED
    # the old rule's false "reproduced": a surrogate change of 0.01 points, significant by sign alone
    assert judge_effect(Agg(-0.0001, 0.00001, 3), p, -1, d).verdict == NO_EFFECT
    assert judge_effect(Agg(-0.0032, 0.0001, 3), p, -1, d).verdict == SMALLER
    assert judge_effect(Agg(-0.0100, 0.0001, 3), p, -1, d).verdict == LARGER
    assert judge_effect(Agg(+0.0050, 0.0002, 3), p, -1, d).verdict == OPPOSITE
    j = judge_effect(Agg(-0.001, 0.0095, 3), p, -1, d)
    assert j.verdict == INCONCLUSIVE and j.seeds_needed is not None and j.seeds_needed > 3
    # with no published size, a real effect in the published direction reproduces
    assert judge_effect(Agg(0.06, 0.01, 3), None, +1, 0.01).verdict == REPRODUCED
    assert judge_effect(Agg(-0.012, 0.003, 3), None, +1, 0.01).verdict == OPPOSITE


def test_cost_rule_is_a_bound() -> None:
    # the old rule's false "reproduced": GRO cost the target 34 % of its HR@10 against "a small cost" (10.4 %)
    assert judge_cost(Agg(0.34, 0.02, 3), 0.104).verdict == EXCEEDS
    assert judge_cost(Agg(0.02, 0.01, 3), 0.104).verdict == REPRODUCED
    assert judge_cost(Agg(0.09, 0.03, 3), 0.104).verdict == INCONCLUSIVE


def test_seeds_needed_follow_the_t_quantiles() -> None:
    assert seeds_for(0.01, 4.303 * 0.01 / math.sqrt(3) + 1e-9) == 3
    assert seeds_for(0.01, 2.7765 * 0.01 / math.sqrt(5) + 1e-9) == 5
    assert seeds_for(None, 0.01) is None and seeds_for(1.0, 1e-6) == 101


# --------------------------------------------------------------------------- headlines on cells


def test_level_within_tolerance_is_reproduced() -> None:
    rows = _Rows()
    _dfme(rows, [0.425, 0.43, 0.435])
    rep = rows.judge()["dfme-beauty-narm"]
    (o,) = rep.outcomes
    assert o.verdict == REPRODUCED and rep.verdict == REPRODUCED
    assert o.value.n == 3 and o.value.mean == pytest.approx(0.43) and o.value.std == pytest.approx(0.005)
    assert o.gap == pytest.approx(0.005)
    assert dict(o.extras)["attack.agr@10_unmasked"].mean == pytest.approx(0.44)
    # the other victims' headlines are untouched
    assert rows.judge()["dfme-beauty-sasrec"].verdict == NOT_RUN


def test_level_outside_tolerance_gives_the_signed_gap(tmp_path: Path) -> None:
    rows = _Rows()
    _dfme(rows, [0.50, 0.51, 0.52])
    (o,) = rows.judge()["dfme-beauty-narm"].outcomes
    assert o.verdict == ABOVE and o.gap == pytest.approx(0.085)
    page = (render_site(rows.rows, tmp_path / "site") / "reproductions.html").read_text(encoding="utf-8")
    assert "gap +0.0850" in page and ABOVE in page and "95 % t interval [0.4852, 0.5348]" in page


def test_wrong_dataset_file_shows_only_as_stand_in(tmp_path: Path) -> None:
    rows = _Rows()
    _dfme(rows, [0.64, 0.64, 0.65], dataset=("amazon-beauty", {"variant": "sequence-file"}))
    _dfme(rows, [0.40, 0.41, 0.42], dataset=("amazon-beauty", {"variant": "ratings"}))  # neither
    rep = rows.judge()["dfme-beauty-narm"]
    assert rep.outcomes == () and rep.verdict == NOT_RUN
    ((stand_in, (o,)),) = rep.stand_ins
    assert "S3-Rec" in stand_in.label and o.value.mean == pytest.approx(0.6433333)
    assert all(c.dataset.params["variant"] == "sequence-file" for c in o.cells)
    page = (render_site(rows.rows, tmp_path / "site") / "reproductions.html").read_text(encoding="utf-8")
    assert "stand-in" in page and "never the verdict" in page and "dfme-paper-beauty-narm-cpu.toml" in page


def test_a_surrogate_stopped_by_its_cap_is_a_lower_bound_not_the_verdict(tmp_path: Path) -> None:
    """DFME's claim is about a surrogate trained to convergence: a capped one is shown apart."""
    rows = _Rows()
    _dfme(rows, [0.41, 0.42, 0.43], diagnostics=CAPPED)
    rep = rows.judge()["dfme-beauty-narm"]
    assert rep.outcomes == () and rep.verdict == NOT_RUN
    ((stand_in, (o,)),) = rep.stand_ins
    assert "lower bound" in stand_in.label and o.value.n == 3
    rows = _Rows()  # a cell that does not say (an older attack version): not known to have converged
    _dfme(rows, [0.42], diagnostics={"diag.epochs": 45.0, "diag.best_epoch": 25.0})
    rep = rows.judge()["dfme-beauty-narm"]
    assert rep.outcomes == () and [o.value.n for _, outs in rep.stand_ins for o in outs] == [1]


def test_gro_surrogate_is_judged_against_its_control_paired_by_seed() -> None:
    rows = _Rows()
    # Seed-to-seed spread (0.02-0.04) dwarfs the effect; paired by seed the drop is clear.
    base = {0: 0.02, 1: 0.03, 2: 0.04, 3: 0.05}
    _gro(rows, CONTROL, {s: v for s, v in base.items() if s != 3})
    _gro(rows, GRO, {s: v - 0.005 - 0.0002 * s for s, v in base.items()})  # seed 3 has no control
    _gro(rows, NONE, {s: v + 0.001 for s, v in base.items()})
    rep = rows.judge()["gro-beauty-surrogate"]
    (o,) = rep.outcomes
    diffs = [-0.005, -0.0052, -0.0054]
    assert o.verdict == REPRODUCED and o.value.n == 3 and sorted(c.seed for c in o.cells) == [0, 1, 2]
    assert o.value.mean == pytest.approx(statistics.fmean(diffs)) and o.value.std == pytest.approx(statistics.stdev(diffs))
    assert o.baseline_label == "gro[lam=0.0]" and o.before.mean == pytest.approx(0.03)
    extras = dict(o.extras)
    assert extras["Δ attack.agr@10 vs gro[lam=0.0]"].mean == pytest.approx(statistics.fmean(diffs))
    beside = next(v for k, v in extras.items() if k.startswith("Δ attack.hr@10_unmasked vs no defense"))
    assert beside.n == 4 and beside.mean == pytest.approx(statistics.fmean([-0.006 - 0.0002 * s for s in range(4)]))
    assert all(c.defense.params["lam"] == 0.001 for o in rep.outcomes for c in o.cells)
    assert rows.judge()["gro-ml1m-surrogate"].verdict == NOT_RUN


def test_gro_off_the_pinned_recipe_is_a_stand_in() -> None:
    rows = _Rows()
    s3rec = {**GRO_BEAUTY, "dataset": ("amazon-beauty", {"variant": "sequence-file"})}
    best = {**GRO_BEAUTY, "recommender": ("bert4rec", {**GRO_BEAUTY["recommender"][1], "restore": "best"})}
    for comps in (s3rec, best):
        for defense, shift in ((CONTROL, 0.0), (GRO, -0.005)):
            for seed in range(3):
                rows.add(seed, {"attack.hr@10_unmasked": 0.03 + shift + 0.0001 * seed, "attack.agr@10": 0.5},
                         **{**comps, "defense": defense})
    rep = rows.judge()["gro-beauty-surrogate"]
    assert rep.verdict == NOT_RUN and rep.outcomes == ()
    assert sum(len(outs) for _, outs in rep.stand_ins) == 2


def test_the_old_false_reproductions_now_read_correctly() -> None:
    rows = _Rows()
    # 1. the surrogate's HR@10 moves 0.01 points (published: -0.52 points)
    _gro(rows, CONTROL, {0: 0.0278, 1: 0.0281, 2: 0.0275})
    _gro(rows, GRO, {0: 0.0277, 1: 0.0280, 2: 0.0274}, **{})
    (o,) = rows.judge()["gro-beauty-surrogate"].outcomes
    assert o.verdict == NO_EFFECT, o.judgement
    # 2. the target loses 34 % of its HR@10 (published: a small cost)
    target = _Rows()
    for seed in range(3):
        for defense, hr in ((NONE, 0.030 + 0.001 * seed), (GRO, (0.030 + 0.001 * seed) * (0.66 + 0.005 * seed))):
            target.add(seed, {"utility.hr@10_unmasked": hr, "utility.ndcg@10_unmasked": hr / 2}, **GRO_BEAUTY, defense=defense)
    (o,) = target.judge()["gro-beauty-target"].outcomes
    assert o.verdict == EXCEEDS and o.value.mean == pytest.approx(0.335, abs=1e-6)


def test_paired_wrong_sign_or_within_noise() -> None:
    for shifts, expected in (([+0.004, +0.005, +0.006], OPPOSITE), ([-0.010, +0.009, -0.002], INCONCLUSIVE)):
        rows = _Rows()
        _gro(rows, CONTROL, {0: 0.02, 1: 0.03, 2: 0.04})
        _gro(rows, GRO, {s: v + d for (s, v), d in zip({0: 0.02, 1: 0.03, 2: 0.04}.items(), shifts)})
        (o,) = rows.judge()["gro-beauty-surrogate"].outcomes
        assert o.verdict == expected, shifts
    lonely = _Rows()
    _gro(lonely, GRO, {0: 0.02, 1: 0.03, 2: 0.04})
    (o,) = lonely.judge()["gro-beauty-surrogate"].outcomes
    assert o.verdict == INCONCLUSIVE and o.n == 0 and "no done defense gro[lam=0.0] row" in o.note
    gro = next(h for h in HEADLINES if h.id == "gro-ml1m-surrogate")
    assert verdict(gro, Agg(-0.0232, 0.001, 3))[0].verdict == REPRODUCED
    assert verdict(gro, Agg(-0.002, 0.001, 3))[0].verdict == NO_EFFECT  # far end -0.0045 short of δ = 0.01


def test_fewshot_minus_datafree_on_the_same_unseen_users() -> None:
    rows = _Rows()
    comp = dict(dataset=("ml-100k", {}), recommender=("sasrec", {}), defense=("none", {}))
    for seed in range(3):
        rows.add(seed, {"attack.agr@10_unseen": 0.60 + 0.01 * seed, "attack.agr@10": 0.9, "attack.queries": 250000.0},
                 attack=("fewshot-extraction", {"real_fraction": 0.1, "max_queries": 250000}), **comp)
        rows.add(seed, {"attack.agr@10": 0.9, "attack.agr@10_unseen": 0.55, "attack.queries": 250000.0},
                 attack=("dfme-autoregressive", {"n_sequences": 5000, "max_queries": 250000}), **comp)
    (o,) = rows.judge()["fewshot-beats-datafree"].outcomes
    assert o.verdict == REPRODUCED and o.value.mean == pytest.approx(0.06) and o.baseline_label.startswith("dfme-autoregressive")
    assert dict(o.extras)[f"Δ attack.queries vs {o.baseline_label}"].mean == 0.0


def test_failed_and_skipped_cells_never_count() -> None:
    rows = _Rows()
    _dfme(rows, [0.42, 0.43])
    rows.add(2, {"attack.agr@10": 0.43}, status="failed", **DFME_BEAUTY)
    rows.add(3, {}, status="skipped", **DFME_BEAUTY)
    rows.add(4, {}, status="pending", **DFME_BEAUTY)
    rep = rows.judge()["dfme-beauty-narm"]
    (o,) = rep.outcomes
    assert o.verdict == INCONCLUSIVE and o.value.n == 2 and rep.not_counted == 2
    assert {c.seed for c in o.cells} == {0, 1}
    only_failed = _Rows()
    only_failed.add(0, {"attack.agr@10": 0.43}, status="failed", **DFME_BEAUTY)
    assert only_failed.judge()["dfme-beauty-narm"].verdict == NOT_RUN


def test_one_seed_and_no_counterpart() -> None:
    rows = _Rows()
    _dfme(rows, [0.425])
    assert rows.judge()["dfme-beauty-narm"].outcomes[0].verdict == INCONCLUSIVE
    rows.add(0, {"defense.auroc_query": 0.91}, dataset=("amazon-beauty", {}), recommender=("bert4rec", {}),
             attack=("dfme-random", {}), defense=("same-detector", {}))
    rep = rows.judge()["same-dfme-random"]
    assert rep.verdict == NO_COUNTERPART and rep.outcomes[0].value.mean == pytest.approx(0.91)
    assert rows.judge()["same-fewshot-extraction"].verdict == NOT_RUN
    # the MIA headline: the released code's whole pipeline only; its recipe on recsec's service, and
    # recsec's recipe, are stand-ins
    runs = ((("lfm", {"neg_sampling": "uniform"}), {"recipe": "reference", "lists": "reference"}, 0.855),
            (("lfm", {"neg_sampling": "popularity"}), {"recipe": "reference", "lists": "recsec"}, 0.70),
            (("lfm", {"neg_sampling": "popularity"}), {"recipe": "recsec", "lists": "recsec"}, 0.98))
    for seed in range(3):
        for rec, attack, ba in runs:
            rows.add(seed, {"attack.balanced_accuracy": ba + 0.001 * seed, "attack.auc": 0.9},
                     dataset=("ml-latest-small", {}), recommender=rec,
                     attack=("mia-zhang", {**attack, "nonmember_lists": "popular"}), defense=("none", {}))
    mia = rows.judge()["mia-lfm-ml-latest-small"]
    assert mia.verdict == REPRODUCED and mia.outcomes[0].value.mean == pytest.approx(0.856)
    assert sorted(o.value.mean for _, outs in mia.stand_ins for o in outs) == pytest.approx([0.701, 0.981])


# --------------------------------------------------------------------------- the page


def test_empty_database_lists_every_headline_not_yet_run(tmp_path: Path) -> None:
    assert all(r.verdict == NOT_RUN and not r.stand_ins for r in build_reproductions([], HEADLINES))
    out = render_site([], tmp_path / "empty")
    page = (out / "reproductions.html").read_text(encoding="utf-8")
    assert page.count('badge verdict status-other">not yet run<') == len(HEADLINES)
    for h in HEADLINES:
        assert f'id="{h.id}"' in page
    assert "recsec run benchmarks/<wbr>reproduce/<wbr>dfme-paper.toml" in page and "n − 1 degrees of freedom" in page
    assert "margin δ = 0.0100" in page and "as first posted, 20.18 → 17.08 %: 15.4%" in page
    index = (out / "index.html").read_text(encoding="utf-8")
    assert index.count('href="reproductions.html"') >= 2  # the navigation and the landing page's text


def test_page_links_cells_and_escapes_names(tmp_path: Path) -> None:
    rows = _Rows()
    for seed, v in enumerate([0.425, 0.43, 0.435]):
        rows.add(seed, {"attack.agr@10": v}, benchmark=HOSTILE, diagnostics=CONVERGED, **DFME_BEAUTY)
    out = render_site(rows.rows, tmp_path / "site")
    page = (out / "reproductions.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page
    for cell_id in (1, 2, 3):
        assert f'href="cells/{cell_id}.html"' in page and (out / "cells" / f"{cell_id}.html").is_file()
    assert '<a href="index.html">Leaderboards</a>' in page
    # every other page links to it through the navigation, relative to its folder
    assert 'href="../reproductions.html"' in (out / "cells" / "1.html").read_text(encoding="utf-8")
    assert math.isclose(rows.judge()["dfme-beauty-narm"].outcomes[0].value.mean, 0.43)
