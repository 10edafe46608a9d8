"""The static leaderboard site: aggregation, pages, chart, escaping, packaging of templates."""

from __future__ import annotations

import json
import re
import statistics
import uuid
from datetime import datetime, timezone
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from recsec.reports import render_site
from recsec.reports.chart import nice_ticks
from recsec.reports.model import dataset_slug
from recsec.results import from_rows
from recsec.reports.render import ASSETS, environment
from recsec.reports.stats import aggregate, fmt, pareto_ranks
from recsec.storage.models import Base, Cell, Metric, Run, Trial

from html_dom import Node, parse

HOSTILE = "<script>alert(1)</script>\"'&../../etc/passwd"
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"


# --------------------------------------------------------------------------- fixtures


def _cell(session: Session, run: Run, **kw: Any) -> Cell:
    """Add a cell (and its Metric rows) with sensible defaults."""
    defaults: dict[str, Any] = dict(
        benchmark="bench-a",
        dataset="ml-100k",
        recommender="bpr",
        attack="extract[budget=100]",
        defense="none",
        seed=0,
        status="done",
        metrics={},
        timings={"train": 1.5, "attack": 0.25},
        versions={"attack:extract": "1", "torch": "2.3.0"},
        hardware={"cpu": "test-cpu", "gpu": None},
    )
    defaults.update(kw)
    primary = defaults.pop("primary", "attack.agr@10")
    defaults.setdefault("config", {"primary_metric": primary, "attack": {"name": defaults["attack"], "params": {"budget": 100}}})
    cell = Cell(config_hash=uuid.uuid4().hex * 2, run_id=run.id, **defaults)
    session.add(cell)
    session.flush()
    for name, value in (defaults["metrics"] or {}).items():
        session.add(Metric(cell_id=cell.id, name=name, value=value))
    return cell


def _metrics(agr: float, ndcg: float, defended: float | None = None, **extra: float) -> dict[str, float]:
    out = {"attack.agr@10": agr, "attack.hr@10": agr / 2, "utility.ndcg@10": ndcg, "utility.hr@10": ndcg * 2}
    if defended is not None:
        out["defended.ndcg@10"] = defended
    out.update(extra)
    return out


@pytest.fixture()
def session(tmp_path: Path) -> Session:
    engine = create_engine(f"sqlite:///{tmp_path / 'results.db'}")
    Base.metadata.create_all(engine)
    maker = sessionmaker(engine)
    with maker() as s:
        run = Run(benchmark="bench-a", recsec_version="0.1.0-test", hardware={"host": "ci"}, spec_path="bench.toml")
        other_run = Run(benchmark="bench-b", recsec_version="0.1.0-test")
        s.add_all([run, other_run])
        s.flush()
        # extract: three defenses with metrics; "noise" and "none" on the front, "weak" (one seed: no interval) unranked.
        _cell(s, run, defense="none", seed=0, metrics=_metrics(0.8, 0.30, 0.30))
        _cell(s, run, defense="none", seed=1, metrics=_metrics(0.6, 0.32, 0.32))
        # noise lowers agreement by 0.35 and 0.33 on the two seeds: a measurable protection
        _cell(s, run, defense="noise", seed=0, metrics=_metrics(0.45, 0.30, 0.25, **{"defended.hr@10_cost": 0.0}))
        _cell(s, run, defense="noise", seed=1, metrics=_metrics(0.27, 0.32, 0.27))
        _cell(s, run, defense="weak", seed=0, metrics=_metrics(0.7, 0.30, 0.20))
        _cell(
            s,
            run,
            defense="broken",
            seed=0,
            status="failed",
            error="RuntimeError: boom",
            traceback="Traceback (most recent call last):\n  File \"x.py\", line 1\nRuntimeError: boom",
        )
        _cell(s, run, defense="odd", seed=0, status="skipped", skip_reason="odd does not apply to bpr")
        # A tuned membership-inference cell: the leaderboard shows its best trial.
        tuned = _cell(
            s,
            run,
            attack="mia",
            primary="attack.auc",
            defense="none",
            seed=0,
            n_trials=3,
            study_name="study-1",
            # As the runner stores it: the best trial's number among the metrics, direction left to the metric.
            metrics={"attack.auc": 0.9, "utility.ndcg@10": 0.3, "tune.best_trial": 1.0},
            config={"primary_metric": "attack.auc", "tune": {"component": "attack", "n_trials": 3, "metric": "attack.auc", "direction": None}},
        )
        s.add_all(
            [
                Trial(cell_id=tuned.id, number=0, state="COMPLETE", value=0.6, params={"lr": 0.1}, metrics={"attack.auc": 0.6}),
                Trial(cell_id=tuned.id, number=1, state="COMPLETE", value=0.9, params={"lr": 0.01}, metrics={"attack.auc": 0.9}),
                Trial(cell_id=tuned.id, number=2, state="FAIL", value=None, params={"lr": 1.0}, metrics={}),
            ]
        )
        _cell(s, other_run, benchmark="bench-b", dataset="steam", defense="none", metrics=_metrics(0.5, 0.2))
        s.commit()
        yield s


@pytest.fixture()
def site(session: Session, tmp_path: Path) -> Path:
    out = render_site(session, tmp_path / "site", title="Test board")
    assert out == tmp_path / "site" and (out / "index.html").is_file()
    return out


def _page(site: Path, benchmark: str = "bench-a", dataset: str = "ml-100k") -> str:
    return (site / "datasets" / f"{dataset_slug(benchmark, dataset)}.html").read_text(encoding="utf-8")


def _cell_id(session: Session, **where: Any) -> int:
    return session.query(Cell).filter_by(**where).one().id


class _Rows(HTMLParser):
    """Collect the body rows of the first ``leaderboard`` table: row attrs and (td attrs, text)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[dict[str, str], list[tuple[dict[str, str], str]]]] = []
        self._in_table = self._in_body = False
        self._td: tuple[dict[str, str], list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "table" and "leaderboard" in a.get("class", ""):
            self._in_table = True
        elif self._in_table and tag == "tbody":
            self._in_body = True
        elif self._in_body and tag == "tr":
            self.rows.append((a, []))
        elif self._in_body and tag == "td":
            self._td = (a, [])

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._td is not None:
            self.rows[-1][1].append((self._td[0], " ".join("".join(self._td[1]).split())))
            self._td = None
        elif tag == "tbody" and self._in_body:
            self._in_body = self._in_table = False

    def handle_data(self, data: str) -> None:
        if self._td is not None:
            self._td[1].append(data)


def _rows(page: str) -> list[dict[str, Any]]:
    """Leaderboard rows as dicts: instance names, rank, n, seed badges, protection and cost (text,
    sort value, verdict), metric name -> text (without ``n=``)."""
    parser = _Rows()
    parser.feed(page)
    out = []
    for attrs, tds in parser.rows:
        texts = [t for _, t in tds]
        fields = {a["data-field"]: (a, t) for a, t in tds if "data-field" in a}
        row: dict[str, Any] = {"id": attrs.get("id"), "class": attrs.get("class", ""), "attack_text": texts[2], "defense_text": texts[3]}
        row.update(recommender=tds[1][0]["data-value"], attack=tds[2][0]["data-value"], defense=tds[3][0]["data-value"])
        row.update(rank=fields["rank"][1], n=fields["seeds"][0]["data-value"], cells=fields["seeds"][1])
        for name in ("protection", "cost"):
            a, t = fields[name]
            row[name] = {"text": t, "value": float(a["data-value"]) if a["data-value"] else None, "verdict": a.get("data-verdict")}
        metric_tds = [(a["title"].split(":")[0], t) for a, t in tds if "metric" in a.get("class", "") and a.get("title") and "data-field" not in a]
        row["from_chance"], cleaned = {}, []
        for m, t in metric_tds:  # a chance metric's cell also says its distance from chance
            found = re.search(r" ([\d.]+) from chance$", t)
            if found:
                row["from_chance"][m], t = float(found.group(1)), t[: found.start()]
            cleaned.append((m, t))
        metric_tds = cleaned
        row["metrics"] = {m: re.sub(r" n=\d+$", "", t) for m, t in metric_tds}
        row["n_texts"] = dict(metric_tds)
        out.append(row)
    return out


def _row(page: str, attack: str, defense: str) -> dict[str, Any]:
    (row,) = [r for r in _rows(page) if r["attack"] == attack and r["defense"] == defense]
    return row


# --------------------------------------------------------------------------- units


def test_aggregate_mean_and_sample_std() -> None:
    agg = aggregate([0.8, 0.6, float("nan"), None])
    assert agg is not None and agg.n == 2
    assert agg.mean == pytest.approx(0.7)
    assert agg.std == pytest.approx(statistics.stdev([0.8, 0.6]))
    assert agg.text() == "0.7000 ± 0.1414"
    single = aggregate([0.5])
    assert single is not None and single.std is None and single.text() == "0.5000"
    assert aggregate([]) is None
    assert fmt(3) == "3" and fmt(1.5e-6) == "1.500e-06"


def test_ci95_is_students_t_interval_of_the_mean() -> None:
    # 1, 2, 3: mean 2, sample std 1; t(0.975, 2 df) = 4.302653 from the t table
    low, high = aggregate([1.0, 2.0, 3.0]).ci95()
    assert (low, high) == pytest.approx((2 - 4.302653 / 3**0.5, 2 + 4.302653 / 3**0.5), abs=1e-6)
    # two values: t(0.975, 1 df) = 12.7062; one value has no interval
    low, high = aggregate([0.8, 0.6]).ci95()
    assert high - low == pytest.approx(2 * 12.7062 * statistics.stdev([0.8, 0.6]) / 2**0.5, rel=1e-5)
    assert aggregate([0.5]).ci95() is None


def test_pareto_ranks_hand_made() -> None:
    # (attacker success, utility): b dominates c (less success, more utility); a and b trade off.
    a, b, c, d = (0.8, 0.31), (0.45, 0.26), (0.7, 0.20), (0.45, 0.26)
    assert pareto_ranks([a, b, c]) == [1, 1, 2]
    assert pareto_ranks([a, b, c, d]) == [1, 1, 2, 1]  # equal points share the front
    assert pareto_ranks([(0.9, 0.1), (0.5, 0.5), (0.1, 0.9)]) == [3, 2, 1]
    assert pareto_ranks([]) == []


def test_best_trial_is_the_one_the_runner_recorded() -> None:
    trials = [dict(number=0, state="COMPLETE", value=0.2), dict(number=1, state="COMPLETE", value=0.8), dict(number=2, state="FAIL", value=None)]
    base = dict(id=1, benchmark="b", dataset="d", recommender="r", attack="a", defense="x", seed=0, status="done", trials=trials)
    (cell,) = from_rows([dict(base, metrics={"tune.best_trial": 0.0})]).cells
    assert cell.best_trial().number == 0 and cell.tuned and cell.trial_count == 3
    (unrecorded,) = from_rows([base]).cells
    assert unrecorded.best_trial() is None  # no guessing which way "best" goes


def test_nice_ticks() -> None:
    assert nice_ticks(0.0, 1.0) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert nice_ticks(0.21, 0.33) == pytest.approx([0.225, 0.25, 0.275, 0.3, 0.325])


# --------------------------------------------------------------------------- pages


def test_index_lists_benchmarks_and_links_dataset_pages(site: Path) -> None:
    index = (site / "index.html").read_text(encoding="utf-8")
    assert "<title>Test board</title>" in index
    for bench, dataset in [("bench-a", "ml-100k"), ("bench-b", "steam")]:
        href = f"datasets/{dataset_slug(bench, dataset)}.html"
        assert f'href="{href}"' in index
        assert (site / href).is_file()
        assert f"<h2>{bench}</h2>" in index
    # bench-a: 6 done (2 + 2 + 1 extract, 1 mia), 1 failed, 1 skipped by design.
    assert "8 cells:" in index
    assert "6 done" in index and "1 failed" in index and "1 do not apply" in index
    assert re.search(r"last update \d{4}-\d\d-\d\d \d\d:\d\d UTC", index)
    for asset in ASSETS:
        assert (site / asset).is_file()
    assert '<link rel="stylesheet" href="style.css">' in index
    assert '<script src="site.js"></script>' in index


def _benchmark(site: Path, name: str) -> Node:
    index = parse((site / "index.html").read_text(encoding="utf-8"))
    (bench,) = [b for b in index.select("section", cls="benchmark") if b.one("h2").text == name]
    return bench


def _body_rows(table: Node) -> list[list[Node]]:
    return [tr.select("td") for tr in table.one("tbody").select("tr")]


def test_landing_page_headlines_per_threat(site: Path) -> None:
    bench = _benchmark(site, "bench-a")
    threats = {s.attrs["data-threat"]: s for s in bench.select("section", cls="threat")}
    assert {"extraction", "membership"} <= set(threats)
    extraction = threats["extraction"]
    # the strongest undefended attack, its mean over two seeds with n, linked to its row
    ((dataset, _, attack, value),) = _body_rows(extraction.one("table", cls="strongest"))
    assert attack.one("a").attrs["href"] == f"datasets/{dataset_slug('bench-a', 'ml-100k')}.html#row-0"
    assert value.text == "0.7000 ± 0.1414 n=2"
    # on the front: noise, whose protection interval lies above 0; not none (the reference), not weak (one seed)
    front = extraction.one("table", cls="front")
    assert [tr.attrs["data-defense"] for tr in front.one("tbody").select("tr")] == ["noise"]
    ((_, defense, success, protection, served, cost),) = _body_rows(front)
    assert defense.one("a").attrs["href"].endswith(f"{dataset_slug('bench-a', 'ml-100k')}.html#row-1")
    assert "undefended 0.7000" in success.text and "undefended 0.3100" in served.text
    # paired by seed: agreement drops 0.35 and 0.33 (mean 0.34, t(0.975, 1) = 12.706 on std 0.01414)
    assert protection.text == "+0.3400 n=2 [+0.213, +0.467]"
    # cost per seed against the undefended cell's served utility, 1 - 0.25/0.30 and 1 - 0.27/0.32
    # (not the cell's own cost, which is 0 for a defense that trains the model it serves)
    assert cost.text == "+16.1% n=2 [+9.5%, +22.8%]"
    # named: the one utility metric of the page, in the header and the help
    headers = [th.text for th in front.one("thead").select("th")]
    assert "ndcg@10 served" in headers and "defended.ndcg@10" in extraction.one("p", cls="help").text
    # weak has one paired seed: no interval, so no measurable protection, listed apart
    unproven = extraction.one("table", cls="unproven")
    assert [tr.attrs["data-defense"] for tr in unproven.one("tbody").select("tr")] == ["weak"]


def test_dataset_table_mean_std_over_seeds(site: Path) -> None:
    page = _page(site)
    none = _row(page, "extract[budget=100]", "none")
    assert none["n"] == "2"
    agr = aggregate([0.8, 0.6])
    assert agr is not None and none["metrics"]["attack.agr@10"] == agr.text() == "0.7000 ± 0.1414"
    assert none["n_texts"]["attack.agr@10"] == "0.7000 ± 0.1414 n=2"  # a value with spread says its n
    assert none["metrics"]["utility.ndcg@10"] == f"{0.31:.4f} ± {statistics.stdev([0.30, 0.32]):.4f}"
    assert none["metrics"]["utility.hr@10"] == f"{0.62:.4f} ± {statistics.stdev([0.60, 0.64]):.4f}"
    assert none["metrics"]["defended.ndcg@10"] == "0.3100 ± 0.0141"
    assert none["metrics"]["attack.hr@10"] == "0.3500 ± 0.0707"
    weak = _row(page, "extract[budget=100]", "weak")
    assert weak["n"] == "1" and weak["n_texts"]["attack.agr@10"] == "0.7000"  # one seed: no std, no n
    # sort keys for the JS: the mean, as a float
    assert 'data-value="0.7"' in page or 'data-value="0.7000000000000001"' in page
    # column headers are sortable, the primary metric is marked and shown; others wait in the chooser
    table = parse(page).one("table", cls="leaderboard")
    assert "sortable" in table.classes
    headers = {th.attrs["title"].split(":")[0]: th for th in table.select("th", data_mcol=...)}
    first = headers["attack.agr@10"]
    assert first.attrs["data-mcol"] == "0" and {"primary", "group-attack"} <= first.classes and "off" not in first.classes
    # after the fixed columns: #, recommender, attack, defense, Pareto, protection, cost, seeds
    assert first.attrs["data-col"] == "8"
    assert "off" in headers["utility.ndcg@10"].classes and "off" not in headers["defended.ndcg@10"].classes
    # the cell's own cost (0 for a training-time defense) waits in the chooser; the page's cost column is paired
    assert "off" in headers["defended.hr@10_cost"].classes
    boxes = {label.text: label.one("input") for label in parse(page).one("details", cls="chooser").select("label")}
    assert "checked" not in boxes["utility.ndcg@10"].attrs and "checked" in boxes["defended.ndcg@10"].attrs


def test_failed_and_skipped_cells(site: Path, session: Session) -> None:
    page = _page(site)
    broken = _row(page, "extract[budget=100]", "broken")
    assert broken["n"] == "0" and "failed" in broken["cells"] and broken["rank"] == ""
    failed_id = _cell_id(session, defense="broken")
    assert f'href="../cells/{failed_id}.html#traceback"' in page
    # a combination skipped by design is no row of the table: it is summarised by its reason
    assert not [r for r in _rows(page) if r["defense"] == "odd"]
    section = parse(page).one("section", id="not-applicable")
    ((reason,),) = [[li.one("span", cls="na-reason").text] for li in section.one("ul", cls="not-applicable").select("li") if li.select("span", cls="na-reason")]
    assert reason == "odd does not apply to bpr"
    (link,) = section.one("ul", cls="na-rows").select("a")
    assert link.attrs["href"] == f"../cells/{_cell_id(session, defense='odd')}.html" and link.text == "s0"
    assert parse(page).one("p", cls="summary").one("span", cls="na-count").text == "· 1 do not apply (why)"
    assert not parse(page).select(cls="status-skipped")  # no warning badge anywhere on the page
    detail = (site / "cells" / f"{failed_id}.html").read_text(encoding="utf-8")
    assert '<pre id="traceback" class="traceback">Traceback (most recent call last):' in detail
    assert "RuntimeError: boom" in detail
    skipped_detail = (site / "cells" / f"{_cell_id(session, defense='odd')}.html").read_text(encoding="utf-8")
    assert "odd does not apply to bpr" in skipped_detail


def test_tuned_cell_shows_best_trial_and_count(site: Path, session: Session) -> None:
    page = _page(site)
    mia = _row(page, "mia", "none")
    assert mia["metrics"]["attack.auc"] == "0.9000"
    assert "tune.best_trial" not in page  # bookkeeping, not a leaderboard column
    assert "3 trials" in mia["attack_text"]
    cell_id = _cell_id(session, attack="mia")
    detail = (site / "cells" / f"{cell_id}.html").read_text(encoding="utf-8")
    assert "<h2>Optuna trials</h2>" in detail
    assert detail.count('<tr class="best">') == 1
    assert "3 trials run, study <code>study-1</code>; best trial #1 (value 0.9000)" in detail
    for state in ("COMPLETE", "FAIL"):
        assert f"<td>{state}</td>" in detail
    assert "<code>{&#34;lr&#34;: 0.01}</code>" in detail


def test_detail_page_content(site: Path, session: Session) -> None:
    cell_id = _cell_id(session, defense="none", seed=1, attack="extract[budget=100]")
    detail = (site / "cells" / f"{cell_id}.html").read_text(encoding="utf-8")
    assert f"<h1>Cell #{cell_id}" in detail
    assert '<tr><th scope="row">Seed</th><td>1</td></tr>' in detail
    assert '<span class="badge status-done">done</span>' in detail
    # config pretty-printed (escaped JSON inside <pre>)
    assert "&#34;primary_metric&#34;: &#34;attack.agr@10&#34;" in detail
    assert re.search(r'<pre class="json">\{\n  &#34;attack&#34;: \{', detail)
    # timings, metrics, provenance
    assert '<tr><th scope="row">train</th><td class="num">1.5000</td></tr>' in detail
    assert '<tr class="primary"><th scope="row"><code>attack.agr@10</code></th><td class="num">0.6000</td>' in detail
    assert "0.1.0-test" in detail and "bench.toml" in detail
    assert '<tr><th scope="row">torch</th><td>2.3.0</td></tr>' in detail
    assert "test-cpu" in detail
    page_href = f"../datasets/{dataset_slug('bench-a', 'ml-100k')}.html"
    assert f'href="{page_href}"' in detail


def test_chart_and_pareto_marking(site: Path) -> None:
    page = _page(site)
    rows = [r for r in _rows(page) if r["attack"] == "extract[budget=100]"]
    # front first (the undefended reference, noise with measurable protection), then unranked rows
    assert [(r["defense"], r["rank"]) for r in rows[:3]] == [("none", "1"), ("noise", "1"), ("weak", "")]
    assert "on-front" in rows[1]["class"] and "on-front" not in rows[2]["class"]
    assert rows[0]["protection"]["text"] == "reference"
    assert rows[1]["protection"]["verdict"] == "measurable protection" and rows[1]["protection"]["value"] == pytest.approx(0.34)
    assert rows[2]["protection"]["verdict"].startswith("no measurable protection")
    # one chart: the extract group has 3 defenses with results, mia only one
    (svg,) = parse(page).select("svg")
    points = {a.one("title").text.split(" ")[0]: a for a in svg.select("a", cls="point")}
    assert set(points) == {"none", "noise", "weak"}
    assert {n: (p.attrs["href"], "front" in p.classes, p.attrs["data-rank"]) for n, p in points.items()} == {
        "none": ("#row-0", True, "1"), "noise": ("#row-1", True, "1"), "weak": ("#row-2", False, "0")}
    assert "unranked" in points["weak"].classes and "no measurable protection" in points["weak"].one("title").text
    labels = [t.text for t in svg.select("text", cls="axis-label")]
    assert "attack.agr@10 — attacker success (lower = better protection)" in labels
    assert "defended.ndcg@10 — victim utility" in labels
    # the front line joins the two front points only; agr@10 has no chance level, so no chance line
    assert len(svg.one("polyline", cls="front-line").attrs["points"].split()) == 2
    assert not svg.select("line", cls="chance-line")


def test_single_defense_dataset_has_no_chart(site: Path) -> None:
    assert "<svg" not in _page(site, "bench-b", "steam")


def test_directions_come_from_the_metric_catalogue_only(tmp_path: Path) -> None:
    def rows(x_name: str, flip: bool = False, **config: Any) -> list[dict[str, Any]]:
        # (defense, attacker success, utility served) on seed 0; the seeds move both a little
        setups = [("none", 0.9, 0.9), ("d1", 0.2, 0.5), ("d2", 0.6, 0.8), ("d3", 0.7, 0.1)]
        out = []
        for d, (dfn, x, y) in enumerate(setups):
            for seed in (0, 1, 2):
                xs = x + 0.01 * seed * (1 + d % 2)
                out.append(dict(id=len(out) + 1, benchmark="b", dataset="d", recommender="r", attack="a", defense=dfn, seed=seed,
                                status="done", config={"primary_metric": x_name, **config},
                                metrics={x_name: 1 - xs if flip else xs, "defended.ndcg@10": y + 0.01 * seed, "attack.other": 1.0}))
        return out

    def ranks(out: Path) -> tuple[Node, list[tuple[str, str]]]:
        page = (out / "datasets" / f"{dataset_slug('b', 'd')}.html").read_text(encoding="utf-8")
        return parse(page), [(r["defense"], r["rank"]) for r in _rows(page)]

    # the attacker wins with higher agreement (catalogue): d1 and d2 trade utility for protection, d3 is dominated
    page, ranked = ranks(render_site(rows("attack.agr@10"), tmp_path / "up"))
    (svg,) = page.select("svg")
    assert "attack.agr@10 — attacker success (lower = better protection)" in [t.text for t in svg.select("text", cls="axis-label")]
    assert ranked == [("none", "1"), ("d1", "1"), ("d2", "1"), ("d3", "2")]
    # a lower-is-better attacker metric (the polluted target's rank) flips the axis: mirrored values rank the same
    page, ranked = ranks(render_site(rows("attack.target_rank_after", flip=True), tmp_path / "down"))
    assert ranked == [("none", "1"), ("d1", "1"), ("d2", "1"), ("d3", "2")]
    assert "higher = better protection" in page.one("svg").text
    # a metric outside the catalogue has no direction: nothing is ranked or charted, whatever the config claims
    page, ranked = ranks(render_site(rows("attack.leak", metric_directions={"attack.leak": True}), tmp_path / "unknown"))
    assert not page.select("svg") and {rank for _, rank in ranked} == {""}


def test_hostile_names_are_escaped_and_stay_inside_out_dir(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    hostile_rows = [
        dict(
            id=i + 1,
            benchmark=HOSTILE,
            dataset=HOSTILE,
            recommender=HOSTILE,
            attack=f"{HOSTILE}[p={HOSTILE},q=[1]]",  # parameters become chips: each escaped
            defense=f"{HOSTILE}{i}",
            seed=0,
            status=status,
            config={"primary_metric": f"attack.{HOSTILE}", "params": {HOSTILE: HOSTILE}, "k": 100,
                    "attack": {"name": HOSTILE, "version": HOSTILE, "params": {HOSTILE: HOSTILE}}},
            # hostile metric names beside catalogue ones, so the chart is drawn with hostile labels
            metrics={f"attack.{HOSTILE}": 0.1 * (i + 1), f"defended.{HOSTILE}": 0.5 - 0.1 * i,
                     "attack.agr@10": 0.1 * (i + 1), "defended.ndcg@10": 0.5 - 0.1 * i},
            diagnostics={HOSTILE: 1.0},
            curves={HOSTILE: [{"epoch": 1, HOSTILE: 1.0}, {"epoch": 2, HOSTILE: 0.5}]},
            timings={HOSTILE: 1.0},
            versions={HOSTILE: HOSTILE},
            hardware={"cpu": HOSTILE},
            error=HOSTILE if status == "failed" else None,
            traceback=HOSTILE if status == "failed" else None,
            skip_reason=HOSTILE if status == "skipped" else None,
            trials=[dict(number=0, state=HOSTILE, value=0.5, params={HOSTILE: HOSTILE}, metrics={HOSTILE: 1.0})],
            run=dict(id=7, benchmark=HOSTILE, status=HOSTILE, recsec_version=HOSTILE, spec_path=HOSTILE),
        )
        for i, status in enumerate(["done", "done", "failed", "skipped"])
    ]
    out = work / "site"
    render_site(hostile_rows, out, title=HOSTILE)

    written = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    assert all(out in p.parents for p in written)
    names = {p.relative_to(out).as_posix() for p in written}
    pattern = r"\.recsec-site|index\.html|reproductions\.html|style\.css|site\.js|cells/\d+\.html|datasets/[0-9a-f]{16}\.html|specs/[0-9a-f]{16}\.toml"
    pattern += r"|data/(results|trials|[0-9a-f]{16}(-cells)?|cell-\d+)\.(csv|json)"
    assert all(re.fullmatch(pattern, n) for n in names), names
    assert {"cells/1.html", "cells/2.html", "cells/3.html", "cells/4.html"} <= names
    assert not any("passwd" in p.as_posix() for p in tmp_path.rglob("*"))

    for path in written:
        if path.suffix == ".json":  # downloads hold the names as data, JSON-escaped
            assert json.loads(path.read_text(encoding="utf-8"))[0]["benchmark"] == HOSTILE
        if path.suffix != ".html":
            continue
        text = path.read_text(encoding="utf-8")
        assert "<script>alert" not in text and "alert(1)</script>" not in text, path
        assert ESCAPED_SCRIPT in text, path
        assert "&#34;&#39;&amp;../../etc/passwd" in text, path
        # the only script is ours, and nothing is loaded from elsewhere
        assert re.findall(r"<script[^>]*>", text) == [f'<script src="{"" if path.parent == out else "../"}site.js">']
        assert not re.search(r'(?:src|href)="(?:https?:)?//', text)
        # every attribute value parses without a stray quote from the data
        for attrs in re.findall(r"<[a-z]+((?:\s+[a-z-]+=\"[^\"]*\")*)\s*/?>", text):
            assert "<" not in attrs
    dataset_page = (out / "datasets" / f"{dataset_slug(HOSTILE, HOSTILE)}.html").read_text(encoding="utf-8")
    assert "<svg" in dataset_page  # two defenses with results: the chart is drawn, its labels escaped
    svg = dataset_page[dataset_page.index("<svg") : dataset_page.index("</svg>")]
    assert ESCAPED_SCRIPT in svg and "<script" not in svg


def test_templates_load_through_the_package(session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    env = environment()
    assert isinstance(env.loader, jinja2.PackageLoader)
    assert env.loader.package_name == "recsec.reports"
    assert env.autoescape is True
    render_site(session, Path("relative-site"))
    assert (elsewhere / "relative-site" / "index.html").is_file()
    # every shipped template matches the package-data globs in pyproject.toml
    shipped = [p.name for p in resources.files("recsec.reports").joinpath("templates").iterdir() if p.is_file()]
    assert set(ASSETS) <= set(shipped) and "base.html" in shipped
    assert all(name.endswith((".html", ".css", ".js")) for name in shipped)


def test_render_from_plain_rows(tmp_path: Path) -> None:
    when = datetime(2024, 5, 1, 12, 30, tzinfo=timezone.utc)
    rows = [
        dict(id=10, benchmark="b", dataset="d", recommender="r", attack="a", defense="x", seed=s, status="done",
             config={"primary_metric": "attack.auc"}, metrics={"attack.auc": v}, updated_at=when)
        for s, v in [(0, 0.5), (1, 0.7)]
    ]
    rows[1]["id"] = 11
    text = (render_site(rows, tmp_path / "out") / "index.html").read_text(encoding="utf-8")
    assert "2024-05-01 12:30 UTC" in text
    page = (tmp_path / "out" / "datasets" / f"{dataset_slug('b', 'd')}.html").read_text(encoding="utf-8")
    assert _row(page, "a", "x")["metrics"]["attack.auc"] == "0.6000 ± 0.1414"
    assert 'title="seed 0: done">s0</a>' in page and 'href="../cells/11.html"' in page


def test_empty_database_renders(tmp_path: Path) -> None:
    out = render_site([], tmp_path / "empty")
    assert "No results stored yet." in (out / "index.html").read_text(encoding="utf-8")


def test_setups_that_share_names_are_never_merged(tmp_path: Path) -> None:
    base = dict(benchmark="b", dataset="d", recommender="r", attack="a", defense="x", status="done")
    config = {"primary_metric": "attack.auc", "k": 100, "tune": None, "attack": {"name": "a", "version": "1", "params": {}}}
    v2 = {**config, "attack": {"name": "a", "version": "2", "params": {}}}
    tuned = {**config, "tune": {"component": "attack", "n_trials": 5, "metric": "attack.shadow_auc"}}
    rows = [
        dict(base, id=1, seed=0, config=config, metrics={"attack.auc": 0.1}),
        dict(base, id=2, seed=0, config=v2, metrics={"attack.auc": 0.5}),
        dict(base, id=3, seed=1, config=v2, metrics={"attack.auc": 0.7}),
        dict(base, id=4, seed=0, config=tuned, metrics={"attack.auc": 0.9}),
    ]
    render_site(rows, tmp_path / "out")
    page = (tmp_path / "out" / "datasets" / f"{dataset_slug('b', 'd')}.html").read_text(encoding="utf-8")
    found = {r["attack_text"]: r for r in _rows(page)}
    assert len(found) == 3
    (newer,) = [r for r in found.values() if "attack v2" in r["attack_text"]]
    assert newer["n"] == "2" and newer["metrics"]["attack.auc"] == "0.6000 ± 0.1414"
    (older,) = [r for r in found.values() if "attack v1" in r["attack_text"] and "attack tuned" not in r["attack_text"]]
    assert older["n"] == "1" and older["metrics"]["attack.auc"] == "0.1000"
    (tuned_row,) = [r for r in found.values() if "attack tuned, 5 trials" in r["attack_text"]]
    assert tuned_row["metrics"]["attack.auc"] == "0.9000"
    assert all((tmp_path / "out" / "cells" / f"{i}.html").is_file() for i in (1, 2, 3, 4))


def test_metric_rows_fill_in_missing_json(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    Base.metadata.create_all(engine)
    with sessionmaker(engine)() as s:
        run = Run(benchmark="b")
        s.add(run)
        s.flush()
        cell = _cell(s, run, benchmark="b", dataset="d", metrics={}, primary="attack.auc")
        s.add(Metric(cell_id=cell.id, name="attack.auc", value=0.25))
        s.commit()
        render_site(s, tmp_path / "out")
    page = (tmp_path / "out" / "datasets" / f"{dataset_slug('b', 'd')}.html").read_text(encoding="utf-8")
    assert _row(page, "extract[budget=100]", "none")["metrics"]["attack.auc"] == "0.2500"


def test_rerender_removes_stale_pages_only(tmp_path: Path) -> None:
    row = dict(id=5, benchmark="b", dataset="d", recommender="r", attack="a", defense="x", seed=0, status="done")
    out = tmp_path / "out"
    render_site([row, dict(row, id=6, dataset="gone")], out)
    assert (out / "cells" / "6.html").is_file()
    (out / "cells" / "notes.txt").write_text("mine")
    render_site([row], out)
    assert not (out / "cells" / "6.html").exists()
    assert not (out / "datasets" / f"{dataset_slug('b', 'gone')}.html").exists()
    assert (out / "cells" / "5.html").is_file() and (out / "cells" / "notes.txt").is_file()


def test_renders_what_the_runner_stores(toy_registry, storage, tmp_path: Path) -> None:
    """End to end on the toy plugin: a real run (two defenses, two seeds, one tuned benchmark) renders."""
    from recsec.runner import RunOptions, Runner
    from recsec.spec import parse_spec

    spec_text = """
datasets = ["toy-data"]
recommenders = ["toy-popular"]
defenses = ["none", "toy-reverse"]

[benchmark]
name = "toy"
seeds = [0, 1]

[[attacks]]
name = "toy-probe"
"""
    opts = RunOptions(device="cpu", artifacts_dir=tmp_path / "artifacts", log=lambda m: None)
    Runner(parse_spec(spec_text, toy_registry, "toy.toml"), storage, opts).run()
    tuned = spec_text.replace('name = "toy"', 'name = "toy-tuned"').replace("seeds = [0, 1]", "seeds = [0]")
    Runner(parse_spec(tuned + "\n[tune]\nn_trials = 3\nsampler_seed = 3\n", toy_registry, "tuned.toml"), storage, opts).run()
    with storage.transaction() as s:
        out = render_site(s, tmp_path / "site")
        cells = s.query(Cell).all()
        expected = {(c.benchmark, c.dataset) for c in cells}
        ids = [c.id for c in cells]
    index = (out / "index.html").read_text(encoding="utf-8")
    for bench, dataset in expected:
        assert f'href="datasets/{dataset_slug(bench, dataset)}.html"' in index
    assert all((out / "cells" / f"{i}.html").is_file() for i in ids)
    page = _page(out, "toy", next(d for b, d in expected if b == "toy"))
    rows = _rows(page)
    assert {r["defense"] for r in rows} >= {"none", "toy-reverse"}
    assert all(r["n"] == "2" for r in rows)
    # the toy's judged attack.agr@10 is in the metric catalogue: rows are ranked and charted
    assert "<svg" in page and any(r["rank"] for r in rows)
    tuned_page = _page(out, "toy-tuned", next(d for b, d in expected if b == "toy-tuned"))
    assert any("3 trials" in r["attack_text"] for r in _rows(tuned_page))


# --------------------------------------------------------------------------- ranking rules (issue 30)


def _rules_page(rows: list[dict[str, Any]], out: Path) -> str:
    render_site(rows, out)
    return (out / "datasets" / f"{dataset_slug('rules', 'synthetic')}.html").read_text(encoding="utf-8")


def test_chance_level_comes_from_the_catalogue() -> None:
    from recsec.judges import names

    assert names.chance_level("attack.auc") == 0.5 and names.chance_level("defense.auroc_query") == 0.5
    # an AUPR's chance is the positives' share, stored with each cell
    assert names.chance_level("defense.aupr_query", {"defense.aupr_query_chance": 0.2}) == 0.2
    assert names.chance_level("defense.aupr_query", {}) is None
    assert not names.has_chance("attack.agr@10") and names.chance_level("attack.agr@10") is None


def test_an_auc_below_chance_ranks_by_its_distance_from_chance(tmp_path: Path) -> None:
    from ranking_cells import chance_cells

    text = _rules_page(chance_cells(), tmp_path / "site")
    rows = {r["defense"]: r for r in _rows(text)}
    # 0.35 is 0.15 from chance: near-chance (0.60, 0.10 from chance, same utility) dominates it
    assert rows["below-chance"]["metrics"]["attack.auc"].startswith("0.3500")
    assert rows["below-chance"]["from_chance"]["attack.auc"] == pytest.approx(0.15)
    assert rows["near-chance"]["rank"] == "1" and rows["below-chance"]["rank"] == "2"
    # protection on the distance from chance, paired by seed: 0.41 - 0.15 on average
    assert rows["below-chance"]["protection"]["value"] == pytest.approx(0.26)
    # noise: no measurable protection (its interval holds 0), so off the front despite serving more utility
    assert rows["noise"]["protection"]["verdict"] == "no measurable protection" and rows["noise"]["rank"] == ""
    (svg,) = parse(text).select("svg")
    points = {a.one("title").text.split(" ")[0]: a for a in svg.select("a", cls="point")}
    assert "front" not in points["noise"].classes and points["noise"].attrs["data-rank"] == "0"
    assert points["below-chance"].attrs["data-rank"] == "2" and "front" in points["near-chance"].classes
    # the chance line is drawn at 0.5
    assert float(svg.one("line", cls="chance-line").attrs["data-chance"]) == 0.5


def test_a_defense_is_ranked_on_its_strongest_known_attacker(tmp_path: Path) -> None:
    from recsec.reports.model import build_site
    from recsec.results import from_rows

    from ranking_cells import adaptive_cells

    (page,) = build_site(from_rows(adaptive_cells())).pages
    (ranking,) = page.rankings
    standing = {s.defense.instance: s for s in ranking.standings}
    pop = standing["popularity-randomization"]
    # the plain attacker is at 0.35 (0.15 from chance); the adaptive one, which knows the defense, at 0.79
    assert pop.ranked is not None and pop.ranked.attack.instance == "mia-zhang[adaptive=true]"
    assert pop.ranked.score.mean == pytest.approx((0.28 + 0.31 + 0.29) / 3)
    # its protection is against the adaptive attacker undefended, paired by seed
    assert pop.protection.agg.mean == pytest.approx((0.12 + 0.11 + 0.12) / 3) and pop.protection.measurable
    assert [s.defense.instance for s in ranking.standings if s.on_front] == ["none", "list-shuffle", "popularity-randomization"]
    # the landing page quotes the same row, with the same protection and cost
    (headline,) = [h for h in build_site(from_rows(adaptive_cells())).benchmarks[0].headlines if h.threat == "membership"]
    entry = {e.row.defense.instance: e for e in headline.front}["popularity-randomization"]
    assert entry.row.attack.instance == "mia-zhang[adaptive=true]" and entry.utility_metric == "defended.ndcg@10"
    assert entry.cost.agg.mean == pytest.approx(statistics.fmean([1 - 0.28 / 0.30, 1 - 0.29 / 0.31, 1 - 0.27 / 0.29]))


def test_cell_page_pairs_with_the_undefended_cell_and_reproduces_portably(tmp_path: Path) -> None:
    from ranking_cells import adaptive_cells

    rows = adaptive_cells()
    render_site(rows, tmp_path / "site")
    (cell,) = [r for r in rows if r["attack"] == "mia-zhang[adaptive=true]" and r["defense"] == "popularity-randomization" and r["seed"] == 0]
    (partner,) = [r for r in rows if r["attack"] == cell["attack"] and r["defense"] == "none" and r["seed"] == 0]
    detail = parse((tmp_path / "site" / "cells" / f"{cell['id']}.html").read_text(encoding="utf-8"))
    paired = detail.one("section", cls="paired")
    assert paired.select("a")[0].attrs["href"] == f"../cells/{partner['id']}.html"
    values = {tr.one("th").text: tr.select("td")[0] for tr in paired.one("table").select("tr")}
    assert float(values["Protection gained"].attrs["data-value"]) == pytest.approx(0.40 - 0.28)
    assert float(values["Utility cost"].attrs["data-value"]) == pytest.approx(1 - 0.28 / 0.30)
    # the reproduce command names the spec from its benchmarks/ folder, never the machine's path
    command = detail.one("pre", cls="command").text
    assert command.startswith("recsec run benchmarks/rules.toml --data-dir DATA_DIR --db sqlite:///recsec.db --only")
    assert "/home/someone" not in command


def test_reproduce_command_of_the_embedded_default_names_no_path() -> None:
    from recsec.api import default_spec_path
    from recsec.reports.provenance import portable_spec, reproduce_command

    assert portable_spec(str(default_spec_path())) is None
    assert portable_spec("/usr/lib/python3/site-packages/recsec/default.toml") is None
    assert portable_spec("/tmp/mine.toml") == "mine.toml" and portable_spec("specs/x.toml") == "specs/x.toml"
    (cell,) = from_rows([dict(id=1, benchmark="b", dataset="d", recommender="r", attack="a", defense="x[p=1]", seed=0,
                              run=dict(id=1, benchmark="b", spec_path="/opt/venv/lib/site-packages/recsec/default.toml"))]).cells
    assert reproduce_command([cell]).split(" --only")[0] == "recsec run --data-dir DATA_DIR --db sqlite:///recsec.db"
    assert "--only 'defense=x[p=1]'" in reproduce_command([cell])


def test_optuna_study_names_are_readable_and_unique() -> None:
    from types import SimpleNamespace

    from recsec.tuning import readable_study_name

    def cell(defense: str, config_hash: str) -> Any:
        comps = [SimpleNamespace(instance_name=n) for n in ("ml-100k", "lfm", "mia-zhang[adaptive=true]", defense)]
        return SimpleNamespace(dataset=comps[0], recommender=comps[1], attack=comps[2], defense=comps[3], seed=2, config_hash=config_hash)

    name = readable_study_name(cell("none", "ab" * 32))
    assert name == "ml-100k/lfm/mia-zhang[adaptive=true]/none/seed2-" + "ab" * 6
    assert readable_study_name(cell("none", "cd" * 32)) != name  # same names, other config: another study
    assert len(readable_study_name(cell("x" * 1000, "ab" * 32))) <= 400
