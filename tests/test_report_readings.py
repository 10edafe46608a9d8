"""What the rendered pages of the issue-29 benchmarks read as, on hand-made cells: a page of
undefended victims ranks nothing; a "strongest attack" that is not undefended says what it ran
against; a membership AUC is shown with its TPR at 1 % FPR; the landing page names the attack
(with its parameters) each defense is judged on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from html_dom import Node, parse
from ranking_cells import adaptive_cells, chance_cells, watermark_cells
from recsec.reports import render_site
from recsec.reports.model import dataset_slug


def _render(rows: list[dict[str, Any]], out: Path) -> tuple[Node, Node]:
    render_site(rows, out)
    page = (out / "datasets" / f"{dataset_slug('rules', 'synthetic')}.html").read_text(encoding="utf-8")
    return parse((out / "index.html").read_text(encoding="utf-8")), parse(page)


def test_undefended_victims_alone_rank_nothing(tmp_path: Path) -> None:
    rows = [r for r in chance_cells() if r["defense"] == "none"]
    rows += [dict(r, id=r["id"] + 100, attack="mia-zhang[adaptive=true]") for r in rows]
    index, page = _render(rows, tmp_path / "site")
    ranks = [td.text for td in page.select("td", data_field="rank")]
    assert ranks == ["", ""] and page.one("table", cls="leaderboard").select("span", cls="front-mark") == []
    (card,) = [c for c in index.select("div", cls="card") if "front" in c.one("h4").text]
    assert card.select("p", cls="no-defense") and not card.select("p", cls="help")


def test_a_defended_strongest_attack_says_what_it_ran_against(tmp_path: Path) -> None:
    rows = [r for r in watermark_cells() if r["defense"] != "none"]
    index, _ = _render(rows, tmp_path / "site")
    (card,) = [c for c in index.select("div", cls="card") if c.select("table", cls="strongest")]
    assert "(undefended)" not in card.one("h4").text
    against = card.one("div", cls="against").text
    assert against.startswith("against wm-owner")


def test_membership_auc_is_shown_with_its_tpr_at_low_fpr(tmp_path: Path) -> None:
    rows = chance_cells()
    for r in rows:
        r["metrics"] = {**r["metrics"], "attack.tpr@1%fpr": 0.02, "attack.tpr@0.1%fpr": 0.0}
    _, page = _render(rows, tmp_path / "site")
    shown = [th.attrs["title"].split(":")[0] for th in page.one("table", cls="leaderboard").one("thead").select("th", data_mcol=...)
             if "off" not in th.classes]
    assert shown == ["attack.auc", "attack.tpr@1%fpr", "defended.ndcg@10"]


def test_the_landing_page_names_the_attack_a_defense_is_judged_on(tmp_path: Path) -> None:
    rows = adaptive_cells()
    for r in rows:  # make every defense fail to protect measurably against the adaptive attacker
        if r["attack"] == "mia-zhang[adaptive=true]" and r["defense"] != "none":
            r["metrics"] = {**r["metrics"], "attack.auc": [0.93, 0.90, 0.91][r["seed"]]}
    index, _ = _render(rows, tmp_path / "site")
    unproven = index.one("table", cls="unproven")
    attacks = [tr.select("td")[0].select("span", cls="iparams") for tr in unproven.one("tbody").select("tr")]
    assert attacks and all(any("adaptive=true" in p.text for p in ps) for ps in attacks)
