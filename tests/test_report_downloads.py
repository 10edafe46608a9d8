"""What leaves the site and the command line as files: the rows downloads carry each row's
protection, cost, verdict and Pareto rank; ``--summary --format csv`` escapes formula-like
fields; ``render_site`` from Python guards its folder as ``recsec report`` does."""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from pathlib import Path

import pytest
from scipy.stats import t

from ranking_cells import chance_cells, dp_cells
from recsec.errors import RecsecError
from recsec.reports import render_site
from recsec.reports.folder import MARKER
from recsec.reports.model import dataset_slug
from recsec.reports.summary import render_summary, summarize
from recsec.results import from_rows

SLUG = dataset_slug("rules", "synthetic")


def _interval(values: list[float]) -> tuple[float, float, float]:
    """Mean and 95 % Student-t interval, computed here from the per-seed values."""
    mean, sd = statistics.fmean(values), statistics.stdev(values)
    half = t.ppf(0.975, len(values) - 1) * sd / math.sqrt(len(values))
    return mean, mean - half, mean + half


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("downloads") / "site"
    render_site(chance_cells(), out)
    return out


def _csv_rows(site: Path) -> dict[str, dict[str, str]]:
    with open(site / "data" / f"{SLUG}.csv", encoding="utf-8", newline="") as f:
        return {r["defense"]: r for r in csv.DictReader(f)}


def test_rows_csv_carries_protection_cost_verdict_and_rank(site: Path) -> None:
    rows = _csv_rows(site)
    below = rows["below-chance"]
    # protection per seed: |undefended AUC - 0.5| - |AUC - 0.5|; cost: 1 - served / undefended NDCG@10
    prot = [abs(b - 0.5) - abs(a - 0.5) for a, b in zip((0.35, 0.36, 0.34), (0.90, 0.92, 0.91))]
    cost = [1 - d / u for d, u in zip((0.25, 0.26, 0.24), (0.30, 0.31, 0.29))]
    for name, values in (("protection", prot), ("cost", cost)):
        mean, lo, hi = _interval(values)
        assert float(below[name]) == pytest.approx(mean)
        assert float(below[f"{name}_ci_low"]) == pytest.approx(lo) and float(below[f"{name}_ci_high"]) == pytest.approx(hi)
        assert below[f"{name}_n"] == "3"
    assert below["verdict"] == "measurable protection" and below["pareto_rank"] == "2"
    assert rows["near-chance"]["pareto_rank"] == "1"
    # noise: its interval holds 0, never ranked
    assert rows["noise"]["verdict"] == "no measurable protection" and rows["noise"]["pareto_rank"] == ""
    assert float(rows["noise"]["protection_ci_low"]) < 0 < float(rows["noise"]["protection_ci_high"])
    none = rows["none"]
    assert none["verdict"] == "undefended (the reference)" and none["protection"] == "" and none["cost"] == ""
    assert {r["attacker_metric"] for r in rows.values()} == {"attack.auc"}
    assert {r["utility_metric"] for r in rows.values()} == {"defended.ndcg@10"}


def test_rows_json_matches_the_csv(site: Path) -> None:
    rows = {r["defense"]: r for r in json.loads((site / "data" / f"{SLUG}.json").read_text(encoding="utf-8"))}
    flat = _csv_rows(site)
    for defense, r in rows.items():
        for field in ("protection", "protection_ci_low", "protection_ci_high", "cost", "cost_ci_low", "cost_ci_high"):
            assert (r[field] is None) == (flat[defense][field] == "")
            if r[field] is not None:
                assert r[field] == pytest.approx(float(flat[defense][field]))
        assert r["verdict"] == flat[defense]["verdict"]
        assert r["pareto_rank"] == (int(flat[defense]["pareto_rank"]) if flat[defense]["pareto_rank"] else None)


def test_rows_downloads_carry_epsilon(tmp_path: Path) -> None:
    render_site(dp_cells(), tmp_path / "site")
    rows = {r["defense"]: r for r in json.loads((tmp_path / "site" / "data" / f"{SLUG}.json").read_text(encoding="utf-8"))}
    assert rows["noisy-sgd[noise_multiplier=0.5]"]["dp_epsilon"] == pytest.approx(8.3)
    assert rows["noisy-sgd[noise_multiplier=0.0]"]["dp_epsilon"] == "inf"
    assert rows["list-shuffle"]["dp_epsilon"] is None


def test_summary_csv_escapes_formula_fields() -> None:
    hostile = "=HYPERLINK(\"http://x\")"
    rows = [dict(id=i + 1, benchmark=hostile, dataset="@d", recommender="+r", attack="-a", defense="\tx", seed=i,
                 status="done", metrics={"=m": -0.25 - i, "attack.auc": 0.5 + i / 10}) for i in range(2)]
    summary = summarize(from_rows(rows).cells, ["=m", "attack.auc"])
    text = render_summary(summary, ["=m", "attack.auc"], "csv")
    header, *body = list(csv.reader(io.StringIO(text)))
    assert "'=m_mean" in header and "=m_mean" not in header
    (row,) = body
    entry = dict(zip(header, row))
    assert entry["benchmark"] == "'" + hostile
    assert (entry["dataset"], entry["recommender"], entry["attack"], entry["defense"]) == ("'@d", "'+r", "'-a", "'\tx")
    # numbers, negative ones included, stay numbers
    assert float(entry["'=m_mean"]) == pytest.approx(-0.75) and float(entry["attack.auc_mean"]) == pytest.approx(0.55)


def test_render_site_from_python_refuses_a_folder_it_did_not_write(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "notes.txt").write_text("mine")
    with pytest.raises(RecsecError, match=r"render_site: .*home: the folder holds files recsec did not write"):
        render_site(chance_cells(), home)
    assert sorted(p.name for p in home.iterdir()) == ["notes.txt"]  # nothing written
    (tmp_path / "file").write_text("x")
    with pytest.raises(RecsecError, match="not a folder"):
        render_site(chance_cells(), tmp_path / "file")
    # a new folder is claimed, and then re-rendered freely
    out = render_site(chance_cells(), tmp_path / "new" / "site")
    assert (out / MARKER).is_file() and (out / "index.html").is_file()
    render_site(chance_cells(), out)


def test_relative_cost_has_one_definition() -> None:
    from recsec.reports import protection, reproductions, summary

    assert summary.relative_cost(0.25, 0.30) == pytest.approx(1 - 0.25 / 0.30)
    assert summary.relative_cost(0.3, 0) is None and summary.relative_cost(None, 0.3) is None
    assert protection.relative_cost is summary.relative_cost and reproductions.relative_cost is summary.relative_cost
    assert summary.relative_cost.__module__ == "recsec.reports.summary"
