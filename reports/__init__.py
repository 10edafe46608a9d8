"""Static HTML leaderboard of a recsec results database.

``render_site(results, out_dir)`` writes ``index.html`` (headlines per benchmark
and threat), ``reproductions.html`` (published headlines of the literature beside
recsec's numbers, :mod:`recsec.reports.reproductions`), one leaderboard per
(benchmark, dataset), one page per stored cell,
their downloads, the shipped stylesheet and script; ``results`` is the read model
(:mod:`recsec.results`) or anything it loads from. See :mod:`recsec.reports.render`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path

__all__ = ["render_site"]


def render_site(source: Any, out_dir: "Path | str", title: str = "recsec leaderboard") -> "Path":
    """Render the site; see :func:`recsec.reports.render.render_site` (imported lazily: Jinja2, SQLAlchemy)."""
    from .render import render_site as _render_site

    return _render_site(source, out_dir, title)
