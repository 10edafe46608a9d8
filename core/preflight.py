"""What ``recsec run`` checks before it touches the results database.

Everything a user can get wrong before the first cell -- a directory that is
not there, a device the machine lacks, a data file that is missing, truncated,
binary or malformed -- fails here with one line and exit status 2, and the
database is left as it was: no run row, no claimed cell, no stored failure.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from .dataset import dataset_error
from .errors import DataUnavailableError, RecsecError

if TYPE_CHECKING:  # pragma: no cover
    from .cells import Cell
    from .dataset import DataContext


def check_data_dir(ctx: "DataContext") -> None:
    """``--data-dir`` / ``RECSEC_DATA_DIR`` must name a directory when set (a typo would read as "no data")."""
    if ctx.data_dir is None or Path(ctx.data_dir).is_dir():
        return
    state = "is not a directory" if Path(ctx.data_dir).exists() else "does not exist"
    raise DataUnavailableError(f"data directory {ctx.data_dir} {state} (--data-dir or RECSEC_DATA_DIR)")


def check_artifacts_dir(path: str | Path) -> None:
    """``--artifacts`` must be a writable directory; it is created if missing (every run would create it)."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise RecsecError(f"--artifacts {p}: exists and is not a directory")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RecsecError(f"--artifacts {p}: cannot create the directory ({exc.strerror or exc})") from exc
    if not os.access(p, os.W_OK | os.X_OK):
        raise RecsecError(f"--artifacts {p}: the directory is not writable")


def run_device(cli: str, spec_device: str | None) -> str:
    """The device a run uses (``--device`` unless it is ``auto`` and the spec names one), checked present."""
    from .device import resolve_device

    name = cli if cli != "auto" or not spec_device else spec_device
    resolve_device(name)
    return name


def load_datasets(cells: list["Cell"], ctx: "DataContext") -> None:
    """Read every dataset the cells use, once, so a bad file is an error now, not a failed cell.

    File-backed datasets then sit preprocessed in the on-disk cache, so the
    runner's own load is a cache hit. An error a loader lets through raw is
    wrapped into one line naming the dataset.
    """
    seen: set[int] = set()
    for cell in cells:
        dataset = cell.dataset
        if id(dataset) in seen:
            continue
        seen.add(id(dataset))
        try:
            dataset.load(ctx)
        except RecsecError:
            raise
        except Exception as exc:  # noqa: BLE001 - any loader failure is the data's problem to report
            raise dataset_error(dataset, exc) from exc
