"""Render the static leaderboard site with Jinja2 (autoescaping on, no external resources).

Layout of the output folder::

    index.html              per benchmark and threat: headlines, leaderboards, runs
    reproductions.html      published headlines beside recsec's numbers (recsec.reports.reproductions)
    datasets/<hash>.html    one leaderboard per (benchmark, dataset)
    cells/<id>.html         one detail page per stored cell
    data/, specs/           downloads (see recsec.reports.downloads)
    style.css, site.js      shipped assets (package data)

Templates and assets are read through the ``recsec.reports`` package
(``jinja2.PackageLoader`` and ``importlib.resources``), so they are found from
an editable install and from an installed wheel alike, whatever the cwd.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import jinja2

from recsec.judges import names
from recsec.results import Results, from_rows, load

from .downloads import site_files
from .folder import check_site_folder, claim_site_folder
from .model import Site, build_site, cell_href
from .protection import Effect
from .provenance import spec_file
from .reproductions import VERDICT_RULE
from .verdicts import verdict_class
from .stats import Agg, fmt

__all__ = ["render_site", "environment", "ASSETS"]

#: Static files copied verbatim from ``templates/`` into the site root.
ASSETS: tuple[str, ...] = ("style.css", "site.js")


def _json(value: Any) -> str:
    """Pretty JSON for display (escaped by the template, like any other text)."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


def _json_compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _when(value: Any) -> str:
    """``2024-05-01 12:00 UTC``; naive datetimes (SQLite) are taken as UTC."""
    if not isinstance(value, datetime):
        return "" if value is None else str(value)
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%d %H:%M UTC")


def _sort_value(value: Any) -> str:
    """A ``data-value`` attribute for sorting: repr of a finite float, else empty."""
    if isinstance(value, Agg):
        value = value.mean
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return repr(float(value))
    return ""


def _percent(value: Any) -> str:
    """A relative cost as ``4.2%``."""
    return f"{float(value) * 100:.1f}%" if isinstance(value, (int, float)) and math.isfinite(value) else ""


def _describe(metric: str) -> str:
    info = names.info(metric)
    return info.description if info else ""


def _last_line(text: Any) -> str:
    """The last non-empty line (a traceback's exception line)."""
    lines = [line for line in str(text or "").splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def environment() -> jinja2.Environment:
    """The Jinja2 environment: package loader, autoescape everywhere, strict undefined."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("recsec.reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        fmt=fmt, pretty_json=_json, compact_json=_json_compact, when=_when, sort_value=_sort_value, last_line=_last_line, percent=_percent,
        signed=Effect.show,
    )
    env.globals.update(describe=_describe, spec_of=spec_file, verdict_class=verdict_class)
    return env


def _safe_path(out_dir: Path, relative: str) -> Path:
    """Resolve ``relative`` under ``out_dir`` and refuse anything that would land outside it."""
    target = (out_dir / relative).resolve()
    if out_dir.resolve() not in target.parents:
        raise ValueError(f"refusing to write outside the site folder: {relative!r}")
    return target


def _write(out_dir: Path, relative: str, text: str) -> None:
    target = _safe_path(out_dir, relative)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")


#: Files this renderer owns: stale ones (cells or datasets gone from the database) are removed.
_OWNED = {
    "cells": re.compile(r"\d+\.html"),
    "datasets": re.compile(r"[0-9a-f]{16}\.html"),
    "data": re.compile(r"(results|trials|[0-9a-f]{16}(-cells)?|cell-\d+)\.(csv|json)"),
    "specs": re.compile(r"[0-9a-f]{16}\.toml"),
}


def _remove_stale(out_dir: Path, written: set[str]) -> None:
    for folder, pattern in _OWNED.items():
        directory = out_dir / folder
        if not directory.is_dir():
            continue
        for path in directory.iterdir():
            if path.is_file() and pattern.fullmatch(path.name) and f"{folder}/{path.name}" not in written:
                path.unlink()


def _copy_assets(out_dir: Path) -> None:
    folder = resources.files("recsec.reports").joinpath("templates")
    for name in ASSETS:
        _write(out_dir, name, folder.joinpath(name).read_text(encoding="utf-8"))


def _render_pages(env: jinja2.Environment, site: Site, out_dir: Path, title: str) -> set[str]:
    """Write every page; return their paths relative to ``out_dir``."""
    from recsec import __version__

    common = {
        "site_title": title,
        "version": __version__,
        "generated": _when(datetime.now(timezone.utc)),
        "cell_href": cell_href,
    }
    _write(out_dir, "index.html", env.get_template("index.html").render(root="", site=site, **common))
    reproductions = env.get_template("reproductions.html").render(root="", site=site, rule=VERDICT_RULE, **common)
    _write(out_dir, "reproductions.html", reproductions)
    written = {"index.html", "reproductions.html"}
    dataset_tpl = env.get_template("dataset.html")
    for page in site.pages:
        _write(out_dir, page.href, dataset_tpl.render(root="../", page=page, **common))
        written.add(page.href)
    cell_tpl = env.get_template("cell.html")
    for view in site.cells:
        _write(out_dir, view.href, cell_tpl.render(root="../", view=view, cell=view.cell, page=view.page, **common))
        written.add(view.href)
    for relative, text in site_files(site).items():
        _write(out_dir, relative, text)
        written.add(relative)
    return written


def _results(source: Any) -> Results:
    """The read model from a ``Results``, a ``Storage`` or ``Session`` (read), or cell dicts."""
    if isinstance(source, Results):
        return source
    if hasattr(source, "transaction") or (hasattr(source, "scalars") and hasattr(source, "execute")):
        return load(source)
    if isinstance(source, Mapping):
        return from_rows(source.get("cells", ()), source.get("runs", ()))
    return from_rows(source)


def render_site(source: Any, out_dir: Path | str, title: str = "recsec leaderboard") -> Path:
    """Render the leaderboard site into ``out_dir`` and return ``out_dir`` (open its ``index.html``).

    Args:
        source: the read model (:class:`recsec.results.Results`), a ``Storage``
            or SQLAlchemy ``Session`` on a recsec database (read through
            :func:`recsec.results.load`), or cell dicts as
            :func:`recsec.results.from_rows` takes them.
        out_dir: the site folder: new, empty, or one recsec rendered into before
            (:mod:`recsec.reports.folder`; any other folder is refused with a
            ``RecsecError`` before anything is written). Pages are overwritten, and
            pages and downloads of an earlier render that no longer exist are
            removed (only files named like this renderer's).
        title: shown in every page's header.
    """
    out = Path(out_dir)
    # The same guard as ``recsec report``: a Python caller's home or project folder is never overwritten.
    check_site_folder(out, f"render_site: {out}")
    claim_site_folder(out)
    site = build_site(_results(source))
    written = _render_pages(environment(), site, out, title)
    _remove_stale(out, written)
    _copy_assets(out)
    return out
