"""The privacy-utility curve: a defense whose cells store ``victim.dp_epsilon`` gets its ε under its
name in the table and on the chart, its settings joined in order of ε (hand-made cells:
tests/ranking_cells.py ``dp_cells``, a DP defense called ``noisy-sgd``, not ``dp-sgd``)."""

from __future__ import annotations

import math

import pytest

from html_dom import Node, parse
from ranking_cells import dp_cells
from recsec.reports import render_site
from recsec.reports.chart import ChartInput, build_chart
from recsec.reports.model import dataset_slug
from recsec.reports.privacy import guarantee
from recsec.reports.stats import Agg
from recsec.results import from_rows


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Node:
    out = tmp_path_factory.mktemp("dp") / "site"
    render_site(dp_cells(), out)
    return parse((out / "datasets" / f"{dataset_slug('rules', 'synthetic')}.html").read_text(encoding="utf-8"))


def _defense_cells(page: Node) -> dict[str, Node]:
    table = page.one("table", cls="leaderboard")
    return {td.attrs["data-value"]: td for tr in table.one("tbody").select("tr") for td in tr.select("td")[3:4]}


def test_guarantee_is_the_mean_epsilon_or_infinite_without_noise() -> None:
    cells = from_rows(dp_cells()).cells
    by_defense = {d: [c for c in cells if c.defense.instance == d] for d in {c.defense.instance for c in cells}}
    g = guarantee(by_defense["noisy-sgd[noise_multiplier=0.5]"])
    assert g is not None and g.epsilon == pytest.approx(8.3) and g.n == 3 and g.delta == pytest.approx(1e-5)
    assert g.text == "ε = 8.3"
    # noise multiplier 0: clipping only, no ε stored: ε = ∞
    inf = guarantee(by_defense["noisy-sgd[noise_multiplier=0.0]"])
    assert inf is not None and math.isinf(inf.epsilon) and inf.text == "ε = ∞"
    # no DP metric at all: no guarantee (not ∞)
    assert guarantee(by_defense["list-shuffle"]) is None and guarantee(by_defense["none"]) is None


def test_epsilon_in_the_defense_cell_of_the_table(page: Node) -> None:
    cells = _defense_cells(page)
    eps = {d: td.select("div", cls="epsilon") for d, td in cells.items()}
    (mid,) = eps["noisy-sgd[noise_multiplier=0.5]"]
    assert mid.text == "ε = 8.3" and float(mid.attrs["data-epsilon"]) == pytest.approx(8.3)
    (clip,) = eps["noisy-sgd[noise_multiplier=0.0]"]
    assert clip.text == "ε = ∞" and clip.attrs["data-epsilon"] == "inf"
    assert eps["none"] == [] and eps["list-shuffle"] == []


def test_dp_points_are_labelled_with_epsilon_and_joined_in_its_order(page: Node) -> None:
    (svg,) = page.select("svg")
    on_curve = svg.select("a", cls="on-curve")
    labels = {a.one("text", cls="point-label").text: a for a in on_curve}
    assert set(labels) == {"ε = 2", "ε = 8.3", "ε = ∞"}
    assert all(a.attrs["data-curve"] == "noisy-sgd" for a in on_curve)
    # the defenses without a guarantee keep their names and lie on no curve
    names = {a.one("text", cls="point-label").text for a in svg.select("a", cls="point") if a not in on_curve}
    assert names == {"none", "list-shuffle"}
    (curve,) = svg.select("polyline", cls="privacy-curve")
    assert curve.attrs["data-curve"] == "noisy-sgd"
    vertices = [tuple(map(float, p.split(","))) for p in curve.attrs["points"].split()]
    centre = {t: (float(a.one("circle").attrs["cx"]), float(a.one("circle").attrs["cy"])) for t, a in labels.items()}
    assert vertices == [centre["ε = 2"], centre["ε = 8.3"], centre["ε = ∞"]]
    legend = page.one("p", cls="legend")
    assert legend.one("span", cls="curve-name").text == "noisy-sgd"


def _agg(v: float) -> Agg:
    return Agg(v, 0.01, 3)


def test_a_front_point_never_shares_its_mark_with_an_unranked_one() -> None:
    same = [ChartInput("front", _agg(0.9), _agg(0.3), 1), ChartInput("unranked", _agg(0.9), _agg(0.3), 0, note="no measurable protection"),
            ChartInput("other", _agg(0.6), _agg(0.2), 2)]
    chart = build_chart("t", "attack.auc", "defended.ndcg@10", same, 0.5)
    by_label = {p.label: p for p in chart.points}
    assert set(by_label) == {"front", "unranked", "other"}
    assert by_label["front"].front and by_label["unranked"].rank == 0
    assert chart.unranked_reasons == ("no measurable protection",)
    # two unranked defenses on one spot still share it, names joined
    tied = build_chart("t", "attack.auc", "defended.ndcg@10",
                       [ChartInput("a", _agg(0.9), _agg(0.3), 0), ChartInput("b", _agg(0.9), _agg(0.3), 0), same[2]], 0.5)
    assert {p.label for p in tied.points} == {"a = b", "other"}
