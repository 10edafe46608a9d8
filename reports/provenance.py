"""Where a number came from: the command that reproduces it and the spec it ran under.

File names come from hashes and integer ids only, never from plugin-provided text.
"""

from __future__ import annotations

import hashlib
import shlex
from dataclasses import dataclass
from typing import Iterable

from recsec.results import KINDS, CellRecord, RunRecord

__all__ = ["SpecFile", "spec_file", "reproduce_command"]


@dataclass(frozen=True)
class SpecFile:
    """A spec text as a run stored it, published as ``specs/<hash>.toml``."""

    path: str
    text: str

    @property
    def href(self) -> str:
        return f"specs/{hashlib.sha256(self.text.encode('utf-8')).hexdigest()[:16]}.toml"


def spec_file(run: RunRecord | None) -> SpecFile | None:
    if run is None or not run.spec_text:
        return None
    return SpecFile(path=run.spec_path, text=run.spec_text)


def reproduce_command(cells: Iterable[CellRecord], fields: Iterable[str] = (*KINDS, "seed")) -> str:
    """``recsec run SPEC --only dataset=... ...``: the slice of the spec holding ``cells``.

    One ``--only`` per value of each field in ``fields`` (values of one field are
    alternatives to ``recsec run``); values are shell-quoted, since instance names
    hold brackets. SPEC is the path the run recorded.
    """
    cells = list(cells)
    paths = sorted({c.run.spec_path for c in cells if c.run is not None and c.run.spec_path})
    spec = shlex.quote(paths[0]) if len(paths) == 1 else "SPEC"
    parts = ["recsec", "run", spec]
    for f in fields:
        values = sorted({str(c.seed) if f == "seed" else c.component(f).instance for c in cells}, key=lambda v: (len(v), v))
        parts += [f"--only {shlex.quote(f'{f}={v}')}" for v in values]
    return " ".join(parts)
