"""The rendered site in a real headless browser (Debian's chromium, driven over CDP by tests/cdp.py).

Every page loads with no console error and no request beyond the site's own
files; sorting reorders rows; a chart point leads to its row; the column chooser
shows a column; the leaderboard fits 1,400 px; every download link resolves. On
hand-made cells (tests/ranking_cells.py) the ranking follows its rules: an AUC of
0.35 ranks as 0.15 from chance, a defense with no measurable protection is never
on the front, the chance line is drawn, and a defense is ranked on its strongest
(adaptive) attacker.
Skips without chromium, except under CI=true, where it fails (as the
PostgreSQL tests do).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cdp import Browser, find_chromium
from recsec.reports import render_site


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    binary = find_chromium()
    if binary is None:
        message = "chromium is not installed (Debian: apt-get install chromium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    b = Browser(binary, tmp_path_factory.mktemp("chromium"))
    yield b
    b.close()


def _config(attack: str, defense: str, seed: int, tune: Any = None) -> dict[str, Any]:
    return {
        "benchmark": "bench",
        "dataset": {"name": "synthetic", "version": "1", "params": {}},
        "recommender": {"name": "sasrec", "version": "1", "params": {"max_epochs": 2}},
        "attack": {"name": attack.split("[")[0], "version": "1", "params": {"spelled": attack}},
        "defense": {"name": defense.split("[")[0], "version": "1", "params": {"spelled": defense}},
        "seed": seed, "k": 100, "tune": tune,
        "primary_metric": "attack.auc" if attack.startswith("mia") else "attack.agr@10",
    }


def _rows() -> list[dict[str, Any]]:
    """Extraction cells with five defenses (two tied on the chart), a tuned membership cell, a failure."""
    rows: list[dict[str, Any]] = []
    run = {"id": 1, "benchmark": "bench", "status": "finished", "spec_path": "bench.toml", "spec_text": 'datasets = ["synthetic"]\n'}
    attack = "dfme-autoregressive[epochs=2,n_sequences=50]"
    for seed in (0, 1, 2):
        for defense, agr, ndcg in (("none", 0.47, 0.30), ("gro[lam=0.1]", 0.44, 0.29), ("noise[scale=0.1]", 0.44, 0.29),
                                   ("reverse", 0.03, 0.05), ("random-permutation", 0.15, 0.12)):
            rows.append(dict(
                id=len(rows) + 1, benchmark="bench", dataset="synthetic", recommender="sasrec[max_epochs=2]", attack=attack,
                defense=defense, seed=seed, status="done", config=_config(attack, defense, seed), run=run,
                metrics={"attack.agr@10": agr + 0.01 * seed, "attack.agr@1": agr / 2, "utility.ndcg@10": 0.3,
                         "defended.ndcg@10": ndcg, "defended.hr@10": ndcg * 2, "defended.hr@10_cost": 1 - ndcg / 0.3},
                curves={"victim": [{"epoch": e, "loss": 3.0 / e, "valid_ndcg@10": 0.1 * e} for e in (1, 2, 3)]},
                diagnostics={"surrogate_loss": 1.0}, data_fingerprint="ab" * 32, hardware={"cpu_model": "test"},
            ))
    tune = {"component": "attack", "n_trials": 3, "metric": "attack.shadow_auc"}
    rows.append(dict(
        id=len(rows) + 1, benchmark="bench", dataset="synthetic", recommender="sasrec[max_epochs=2]", attack="mia-zhang",
        defense="none", seed=0, status="done", config=_config("mia-zhang", "none", 0, tune), run=run, n_trials=3,
        metrics={"attack.auc": 0.9, "attack.shadow_auc": 0.8, "defended.ndcg@10": 0.3, "tune.best_trial": 1.0},
        trials=[{"number": i, "state": "COMPLETE", "value": v, "params": {"lr": 10.0 ** -i}} for i, v in enumerate((0.6, 0.8, 0.7))],
    ))
    rows.append(dict(id=len(rows) + 1, benchmark="bench", dataset="synthetic", recommender="sasrec[max_epochs=2]", attack=attack,
                     defense="broken", seed=0, status="failed", error="RuntimeError: boom", config=_config(attack, "broken", 0), run=run))
    return rows


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_site(_rows(), tmp_path_factory.mktemp("site") / "site").resolve()


def _leaderboard(site: Path) -> Path:
    (page,) = (site / "datasets").glob("*.html")
    return page


def test_every_page_loads_clean_and_offline(browser: Browser, site: Path) -> None:
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 10
    for page in pages:
        since = browser.open(page.as_uri())
        assert browser.problems(since) == [], page
        outside = [u for u in browser.requests(since) if not (u.startswith(site.as_uri() + "/") or u.startswith("data:"))]
        assert outside == [], page
        assert browser.evaluate("document.title"), page


def test_leaderboard_fits_1400px_and_the_chooser_shows_columns(browser: Browser, site: Path) -> None:
    browser.open(_leaderboard(site).as_uri())
    assert browser.evaluate("window.innerWidth") == 1400
    wrap = "document.querySelector('.table-wrap')"
    assert browser.evaluate(f"{wrap}.scrollWidth <= {wrap}.clientWidth"), "the leaderboard scrolls sideways at 1,400 px"
    visible = "Array.from(document.querySelectorAll('table.leaderboard thead th')).filter(th => th.offsetParent !== null).map(th => th.title.split(':')[0])"
    shown = browser.evaluate(visible)
    assert {"attack.agr@10", "defended.ndcg@10"} <= set(shown) and not {"utility.ndcg@10", "defended.hr@10_cost"} & set(shown)
    browser.evaluate("(() => { const box = Array.from(document.querySelectorAll('details.chooser input')).find("
                     "b => b.parentElement.textContent.trim() === 'utility.ndcg@10'); box.click(); })()")
    assert "utility.ndcg@10" in browser.evaluate(visible)
    assert browser.evaluate("document.querySelector('.shown-count').textContent") == str(len(shown) - 8 + 1)


def test_sorting_a_column_reorders_rows(browser: Browser, site: Path) -> None:
    browser.open(_leaderboard(site).as_uri())
    read = ("Array.from(document.querySelectorAll('table.leaderboard tbody tr')).map(tr => "
            "tr.querySelector('td[title^=\"attack.agr@10:\"]')).filter(td => td).map(td => parseFloat(td.dataset.value))")
    before = browser.evaluate(read)
    header = "Array.from(document.querySelectorAll('table.leaderboard th')).find(th => th.title.startsWith('attack.agr@10:'))"
    browser.evaluate(f"{header}.click()")
    ascending = browser.evaluate(read)
    assert ascending == sorted(before) and ascending != before
    browser.evaluate(f"{header}.click()")
    assert browser.evaluate(read) == sorted(before, reverse=True)
    assert browser.evaluate(f"{header}.getAttribute('aria-sort')") == "descending"


def test_chart_points_link_to_their_rows(browser: Browser, site: Path) -> None:
    browser.open(_leaderboard(site).as_uri())
    targets = browser.evaluate("Array.from(document.querySelectorAll('svg.scatter a.point')).map(a => a.getAttribute('href'))")
    assert len(targets) == 4  # five defenses, two of them tied on one point
    for href in targets:
        assert browser.evaluate(f"!!document.querySelector('table.leaderboard tbody tr{href}')"), href
    labels = browser.evaluate("Array.from(document.querySelectorAll('svg.scatter .point-label')).map(t => t.textContent)")
    assert any(" = " in label for label in labels)  # the tie, grouped
    boxes = browser.evaluate("Array.from(document.querySelectorAll('svg.scatter .point-label')).map(t => "
                             "{ const r = t.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })")
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (a, b)  # no overlapping labels
    browser.evaluate("document.querySelector('svg.scatter a.point').dispatchEvent(new MouseEvent('click', {bubbles: true, cancelable: true}))")
    assert browser.evaluate("location.hash") == targets[0]


def test_every_download_link_resolves(browser: Browser, site: Path) -> None:
    links: set[str] = set()
    for page in sorted(site.rglob("*.html")):
        browser.open(page.as_uri())
        links |= set(browser.evaluate("Array.from(document.querySelectorAll('a[download]')).map(a => a.href)"))
    assert {f"{site.as_uri()}/data/results.csv", f"{site.as_uri()}/data/trials.csv"} <= links
    assert any(link.startswith(f"{site.as_uri()}/specs/") for link in links)
    for link in links:
        assert link.startswith(site.as_uri() + "/"), link
        path = site / link.removeprefix(site.as_uri() + "/")
        assert path.is_file() and path.stat().st_size > 0, link


# --------------------------------------------------------------------------- the ranking rules, as a reader sees them

#: Each leaderboard row as the browser shows it: defense, attack, Pareto cell, protection verdict.
_SHOWN_ROWS = """Array.from(document.querySelectorAll('table.leaderboard tbody tr')).map(tr => ({
  defense: tr.cells[3].dataset.value, attack: tr.cells[2].dataset.value,
  rank: tr.querySelector('[data-field=rank]').textContent.trim(),
  verdict: tr.querySelector('[data-field=protection]').dataset.verdict || '',
  chance: (tr.querySelector('.chance-distance') || {}).textContent || ''}))"""
#: The chart's points (label from the tooltip's first line, Pareto rank) and where 0.5 and the chance line are drawn.
_CHART = """(() => { const svg = document.querySelector('svg.scatter');
  const ticks = Array.from(svg.querySelectorAll('text.tick')).filter(t => t.getAttribute('text-anchor') === 'middle')
    .map(t => [parseFloat(t.textContent), parseFloat(t.getAttribute('x'))]);
  const line = svg.querySelector('line.chance-line');
  return {points: Array.from(svg.querySelectorAll('a.point')).map(a => [a.querySelector('title').textContent.split('\\n')[0],
            a.dataset.rank, a.classList.contains('front')]),
          ticks: ticks, chance_x: line ? parseFloat(line.getAttribute('x1')) : null,
          visible: line ? line.getBoundingClientRect().height > 0 : false}; })()"""


def _rules_site(tmp_path_factory: pytest.TempPathFactory, rows: list[dict[str, Any]]) -> Path:
    return render_site(rows, tmp_path_factory.mktemp("rules") / "site").resolve()


def test_auc_below_chance_ranks_by_distance_and_noise_stays_off_the_front(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> None:
    from ranking_cells import chance_cells

    site = _rules_site(tmp_path_factory, chance_cells())
    browser.open(_leaderboard(site).as_uri())
    rows = {r["defense"]: r for r in browser.evaluate(_SHOWN_ROWS)}
    # an AUC of 0.35 is 0.15 from chance: second to near-chance (0.10 from chance, same utility), not the best protection
    assert rows["below-chance"]["chance"] == "0.1500 from chance"
    assert rows["near-chance"]["rank"] == "1" and rows["below-chance"]["rank"] == "2"
    # a defense whose protection interval holds 0 is marked and unranked, though it serves the most utility
    assert rows["noise"]["verdict"] == "no measurable protection" and rows["noise"]["rank"] == ""
    chart = browser.evaluate(_CHART)
    points = {label: (rank, front) for label, rank, front in chart["points"]}
    assert points["noise"] == ("0", False) and points["below-chance"] == ("2", False) and points["near-chance"] == ("1", True)
    # the chance line is drawn, at 0.5 on the x axis (interpolated between the ticks around it)
    (lo, lo_x), (hi, hi_x) = max(t for t in chart["ticks"] if t[0] <= 0.5), min(t for t in chart["ticks"] if t[0] >= 0.5)
    expected = lo_x if hi == lo else lo_x + (0.5 - lo) / (hi - lo) * (hi_x - lo_x)
    assert chart["visible"] and abs(chart["chance_x"] - expected) < 1.0
    # the landing page: the front has the reference's company only where protection is measurable
    since = browser.open((site / "index.html").as_uri())
    assert browser.problems(since) == []
    front = browser.evaluate("Array.from(document.querySelectorAll('section[data-threat=membership] table.front tbody tr')).map(tr => tr.dataset.defense)")
    unproven = browser.evaluate("Array.from(document.querySelectorAll('section[data-threat=membership] table.unproven tbody tr')).map(tr => tr.dataset.defense)")
    assert front == ["near-chance"] and unproven == ["noise"]


def test_a_defense_is_ranked_on_the_adaptive_attacker(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> None:
    from ranking_cells import adaptive_cells

    site = _rules_site(tmp_path_factory, adaptive_cells())
    browser.open((site / "index.html").as_uri())
    front = browser.evaluate("""Array.from(document.querySelectorAll('section[data-threat=membership] table.front tbody tr')).map(tr => ({
      defense: tr.dataset.defense, score: parseFloat(tr.dataset.score), attack: tr.cells[0].textContent}))""")
    pop = next(e for e in front if e["defense"] == "popularity-randomization")
    # the plain attacker reaches 0.35 against it, the adaptive one 0.79: ranked at 0.29 from chance, on the adaptive row
    assert "adaptive=true" in pop["attack"] and abs(pop["score"] - 0.2933) < 1e-3
    href = browser.evaluate("document.querySelector('section[data-threat=membership] table.front tr[data-defense=popularity-randomization] td:nth-child(2) a').href")
    browser.open(href)
    row = browser.evaluate("document.querySelector(location.hash).cells[2].dataset.value")
    assert row == "mia-zhang[adaptive=true]"


# --------------------------------------------------------------------------- privacy-utility curve, ownership verification

#: Every label on the chart as drawn: its text and box, and the SVG's box.
_LABEL_BOXES = """(() => { const svg = document.querySelector('svg.scatter'); const s = svg.getBoundingClientRect();
  return {svg: [s.left, s.top, s.right, s.bottom], labels: Array.from(svg.querySelectorAll('.point-label')).map(t => {
    const r = t.getBoundingClientRect(); return [t.textContent, r.left, r.top, r.right, r.bottom]; })}; })()"""


def test_the_privacy_curve_reads_in_the_browser(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> None:
    from ranking_cells import dp_cells

    site = _rules_site(tmp_path_factory, dp_cells())
    since = browser.open(_leaderboard(site).as_uri())
    assert browser.problems(since) == []
    drawn = browser.evaluate(_LABEL_BOXES)
    labels = {text: box for text, *box in drawn["labels"]}
    assert {"ε = 2", "ε = 8.3", "ε = ∞"} <= set(labels)
    boxes = list(labels.values())
    for i, a in enumerate(boxes):  # inside the chart, and no two labels overlap
        assert drawn["svg"][0] <= a[0] and a[2] <= drawn["svg"][2] and drawn["svg"][1] <= a[1] and a[3] <= drawn["svg"][3], a
        for b in boxes[i + 1:]:
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (a, b)
    # the curve is drawn and visible, through its three settings
    length = browser.evaluate("document.querySelector('svg.scatter polyline.privacy-curve').getTotalLength()")
    assert length > 10
    cells = browser.evaluate("Array.from(document.querySelectorAll('table.leaderboard tbody tr')).map(tr => "
                             "[tr.cells[3].dataset.value, (tr.cells[3].querySelector('.epsilon') || {}).textContent || ''])")
    assert dict(cells)["noisy-sgd[noise_multiplier=2.0]"] == "ε = 2" and dict(cells)["none"] == ""


def test_the_ownership_table_fits_and_links_to_rows(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> None:
    from ranking_cells import watermark_cells

    site = _rules_site(tmp_path_factory, watermark_cells())
    for page in (_leaderboard(site), site / "index.html"):
        since = browser.open(page.as_uri())
        assert browser.problems(since) == [], page
        wrap = "document.querySelector('table.ownership').closest('.table-wrap')"
        assert browser.evaluate(f"{wrap}.scrollWidth <= {wrap}.clientWidth"), f"{page}: the verification table scrolls sideways"
    browser.open(_leaderboard(site).as_uri())
    href = browser.evaluate("document.querySelector('table.ownership tr[data-defense=\"wm-owner\"] a').getAttribute('href')")
    assert browser.evaluate(f"document.querySelector('table.leaderboard tbody tr{href}').cells[3].dataset.value") == "wm-owner"
