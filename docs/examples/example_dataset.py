"""A file-backed dataset: a check-in log, one ``user<TAB>item<TAB>timestamp`` event per line."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from recsec.bounded import read_data
from recsec.data import Interactions
from recsec.dataset import DUPLICATES, DataContext, FileDataset, Resolved
from recsec.errors import DataUnavailableError
from recsec.params import Param


class CheckinLog(FileDataset):
    """Check-ins from a tab-separated file: user id, item id, integer timestamp.

    Ids may be any strings (they are re-indexed densely, in sorted order); an
    optional first line ``user<TAB>item<TAB>timestamp`` is a header. ``path`` is
    looked for under the data directory (``--data-dir``), then as given.
    """

    name = "checkin-log"
    version = "1"
    family = "sequential"
    params = {
        "path": Param("checkins.tsv", help="the check-in file (relative to the data directory, or absolute)"),
        "min_item_count": Param(0, help="drop items with fewer check-ins (one pass); 0 = off", valid="[0, inf)"),
        "min_user_count": Param(0, help="then drop users with fewer check-ins; 0 = off", valid="[0, inf)"),
        "duplicates": DUPLICATES,
    }

    def resolve(self, ctx: DataContext | None) -> Resolved:
        """The file ``load`` reads. ``ctx`` may be None (``fingerprint`` outside a run)."""
        given = Path(self.p.path).expanduser()
        roots = [Path(ctx.data_dir)] if ctx is not None and ctx.data_dir is not None else []
        for candidate in [given] if given.is_absolute() else [*(r / given for r in roots), given]:
            if candidate.is_file():
                return Resolved(files={"checkins": candidate})
        raise DataUnavailableError(f"{self.p.path}: no such check-in file (looked in "
                                   f"{', '.join(str(r) for r in roots) or 'the working directory'})")

    def read(self, resolved: Resolved) -> Interactions:
        """Every event in file order (the duplicate check names rows by their line)."""
        path = resolved.files["checkins"]
        text = read_data(path).decode("utf-8", errors="replace")  # size-capped, gzip inflated
        lines = [(n, ln) for n, ln in enumerate(text.splitlines(), start=1) if ln.strip()]
        if lines and lines[0][1].split("\t")[:2] == ["user", "item"]:
            lines = lines[1:]
        users, items, times = [], [], []
        for number, line in lines:
            fields = line.split("\t")
            if len(fields) != 3 or not fields[2].strip().lstrip("-").isdigit():
                raise DataUnavailableError(f"{path}:{number}: expected user<TAB>item<TAB>integer timestamp, "
                                           f"got {line[:60]!r}")
            users.append(fields[0].strip())
            items.append(fields[1].strip())
            times.append(int(fields[2]))
        if not users:
            raise DataUnavailableError(f"{path}: no check-ins")
        return Interactions.from_raw(np.array(users), np.array(items), timestamps=np.array(times, dtype=np.int64),
                                     source={"format": "checkin-log tsv"})
