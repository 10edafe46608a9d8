"""The rendered site in a real headless browser (Debian's chromium, driven over CDP by tests/cdp.py).

Every page loads with no console error and no request beyond the site's own
files; sorting reorders rows; a chart point leads to its row; the column chooser
shows a column; the leaderboard fits 1,400 px; every download link resolves.
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
    assert {"attack.agr@10", "defended.ndcg@10", "defended.hr@10_cost"} <= set(shown) and "utility.ndcg@10" not in shown
    browser.evaluate("(() => { const box = Array.from(document.querySelectorAll('details.chooser input')).find("
                     "b => b.parentElement.textContent.trim() === 'utility.ndcg@10'); box.click(); })()")
    assert "utility.ndcg@10" in browser.evaluate(visible)
    assert browser.evaluate("document.querySelector('.shown-count').textContent") == str(len(shown) - 6 + 1)


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
