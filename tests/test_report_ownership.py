"""Ownership verification on the leaderboard: rows whose cells carry ``defense.wm_*`` metrics get a
section with each metric's mean ± sd over seeds, its control, the p-value's evidence and the utility
cost (hand-made cells: tests/ranking_cells.py ``watermark_cells``, a defense called ``wm-owner``)."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from html_dom import Node, parse
from ranking_cells import chance_cells, watermark_cells
from recsec.reports import render_site
from recsec.reports.model import dataset_slug


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wm") / "site"
    render_site(watermark_cells(), out)
    return out


def _page(site: Path) -> Node:
    return parse((site / "datasets" / f"{dataset_slug('rules', 'synthetic')}.html").read_text(encoding="utf-8"))


def _table(root: Node) -> dict[str, dict[str, Node]]:
    """defense -> metric (or ``utility`` / ``cost``) -> its cell."""
    out: dict[str, dict[str, Node]] = {}
    for tr in root.one("table", cls="ownership").one("tbody").select("tr"):
        tds = tr.select("td")
        out[tr.attrs["data-defense"]] = {td.attrs.get("data-metric") or td.attrs.get("data-field", ""): td for td in tds}
    return out


def test_the_rows_with_watermark_metrics_get_a_verification_section(site: Path) -> None:
    section = _page(site).one("section", cls="ownership")
    assert section.attrs["id"] == "ownership"
    rows = _table(section)
    assert set(rows) == {"wm-owner", "wm-owner[copies=0]"}  # the undefended row has no watermark
    heads = [th.attrs.get("data-metric") for th in section.one("thead").select("th") if th.attrs.get("data-metric")]
    # catalogue order; a control is shown under the metric it controls, not as a column
    assert heads == ["defense.wm_hr@10", "defense.wm_rank", "defense.wm_pvalue"]


def test_retention_is_mean_and_sd_over_seeds_beside_its_control(site: Path) -> None:
    owner = _table(_page(site))["wm-owner"]
    hr = owner["defense.wm_hr@10"]
    assert float(hr.attrs["data-value"]) == pytest.approx(0.5)
    assert hr.text.startswith("0.5000 ± 0.1000")
    control = hr.one("div", cls="control")
    assert float(control.attrs["data-value"]) == pytest.approx(statistics.fmean([0.05, 0.0, 0.05]))
    rank = owner["defense.wm_rank"]
    assert float(rank.attrs["data-value"]) == pytest.approx(0.02)
    assert float(rank.one("div", cls="control").attrs["data-value"]) == pytest.approx(0.50)
    # two of three seeds give the owner p < 0.05
    assert owner["defense.wm_pvalue"].one("div", cls="evidence").attrs["data-below"] == "2"
    assert _table(_page(site))["wm-owner[copies=0]"]["defense.wm_pvalue"].one("div", cls="evidence").attrs["data-below"] == "0"


def test_beside_the_utility_cost_paired_with_the_undefended_row(site: Path) -> None:
    owner = _table(_page(site))["wm-owner"]
    # cost: 1 - served / undefended defended.ndcg@10, paired by seed
    expected = statistics.fmean(1 - d / u for d, u in zip((0.28, 0.29, 0.27), (0.30, 0.31, 0.29)))
    assert float(owner["cost"].attrs["data-value"]) == pytest.approx(expected)
    assert float(owner["utility"].attrs["data-value"]) == pytest.approx(0.28)


def test_the_landing_page_quotes_the_verification(site: Path) -> None:
    index = parse((site / "index.html").read_text(encoding="utf-8"))
    (section,) = index.select("section", data_threat="ownership")
    rows = _table(section)
    assert set(rows) == {"wm-owner", "wm-owner[copies=0]"}
    link = section.one("tr", data_defense="wm-owner").select("a")[0]
    assert link.attrs["href"].startswith(f"datasets/{dataset_slug('rules', 'synthetic')}.html#row-")


def test_no_section_without_watermark_metrics(tmp_path: Path) -> None:
    out = tmp_path / "site"
    render_site(chance_cells(), out)
    page = parse((out / "datasets" / f"{dataset_slug('rules', 'synthetic')}.html").read_text(encoding="utf-8"))
    assert page.select("section", cls="ownership") == [] and page.select("table", cls="ownership") == []
