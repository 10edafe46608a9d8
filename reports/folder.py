"""The folder a site is rendered into: new, empty, or one recsec wrote before, never the user's.

Rendering overwrites ``index.html`` and the downloads and deletes stale pages, so a
folder that already holds other files (a home directory, a project) is refused. A
folder recsec renders into gets a small marker file, :data:`MARKER`, and is then
re-rendered freely.
"""

from __future__ import annotations

from pathlib import Path

from recsec.errors import RecsecError

__all__ = ["MARKER", "check_site_folder", "claim_site_folder"]

MARKER = ".recsec-site"
_NOTE = "This folder was written by `recsec report`; re-rendering replaces its pages and downloads.\n"


def check_site_folder(out: Path | str, label: str | None = None) -> None:
    """Raise RecsecError (naming ``label``, default ``report --out OUT``) unless ``out`` may take a
    site: absent below a folder, an empty folder, or a folder holding :data:`MARKER`. Creates nothing."""
    out = Path(out)
    label = label or f"report --out {out}"
    if out.exists():
        if not out.is_dir():
            raise RecsecError(f"{label}: a file is there, not a folder; name a folder for the site")
        if (out / MARKER).is_file() or not any(out.iterdir()):
            return
        raise RecsecError(f"{label}: the folder holds files recsec did not write (no {MARKER} marker); "
                          "name a new or empty folder, so that none of them is overwritten")
    parent = out.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if parent.exists() and not parent.is_dir():
        raise RecsecError(f"{label}: {parent} is a file, so no folder can be made below it")


def claim_site_folder(out: Path | str) -> Path:
    """Create ``out`` if needed and mark it as recsec's (after :func:`check_site_folder`)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    marker = out / MARKER
    if not marker.is_file():
        marker.write_text(_NOTE, encoding="utf-8")
    return out
