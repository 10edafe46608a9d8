"""Where a number came from: the command that reproduces it and the spec it ran under.

File names come from hashes and integer ids only, never from plugin-provided text.
"""

from __future__ import annotations

import hashlib
import shlex
from dataclasses import dataclass
from importlib import resources
from pathlib import PurePath
from typing import Iterable

from recsec.results import KINDS, CellRecord, RunRecord

__all__ = ["SpecFile", "spec_file", "reproduce_command", "portable_spec"]

#: Where this install keeps the embedded default spec (``recsec.api.default_spec_path``, not imported:
#: the API imports the runner and, through the CLI, these reports).
_EMBEDDED_DEFAULT = str(resources.files("recsec") / "default.toml")
#: What a reproduce command passes for the data folder and the database: the reader's own.
DATA_DIR, DB = "DATA_DIR", "sqlite:///recsec.db"


@dataclass(frozen=True)
class SpecFile:
    """A spec text as a run stored it, published as ``specs/<hash>.toml``."""

    path: str
    text: str

    @property
    def href(self) -> str:
        return f"specs/{hashlib.sha256(self.text.encode('utf-8')).hexdigest()[:16]}.toml"

    @property
    def label(self) -> str:
        """The spec as the reproduce command names it (the embedded default by its file name)."""
        return portable_spec(self.path) or "default.toml (embedded in recsec)"

    @property
    def filename(self) -> str:
        """The name a download saves the spec under: the one the reproduce command uses."""
        name = PurePath(portable_spec(self.path) or "default.toml").name
        return name if name.endswith(".toml") else "spec.toml"


def portable_spec(path: str) -> str | None:
    """How a reproduce command names the spec a run stored: None for the embedded default
    (``recsec run`` without a spec runs it), a relative path as given, an absolute one from its
    ``benchmarks/`` folder on (as in a clone of recsec), else its file name (the page's spec
    download is saved under that name). Never a path of the machine that ran it."""
    p = PurePath(path)
    if p.parts[-2:] == ("recsec", "default.toml") or path == _EMBEDDED_DEFAULT:  # installed, or editable
        return None
    if not p.is_absolute():
        return path
    parts = p.parts
    if "benchmarks" in parts:
        return PurePath(*parts[len(parts) - 1 - parts[::-1].index("benchmarks"):]).as_posix()
    return p.name


def spec_file(run: RunRecord | None) -> SpecFile | None:
    if run is None or not run.spec_text:
        return None
    return SpecFile(path=run.spec_path, text=run.spec_text)


def reproduce_command(cells: Iterable[CellRecord], fields: Iterable[str] = (*KINDS, "seed")) -> str:
    """``recsec run SPEC --data-dir DATA_DIR --db URL --only dataset=... ...``: the slice of the spec holding ``cells``.

    One ``--only`` per value of each field in ``fields`` (values of one field are
    alternatives to ``recsec run``); values are shell-quoted, since instance names
    hold brackets. SPEC is the run's spec as :func:`portable_spec` names it (left out
    for the embedded default); ``DATA_DIR`` and the database are the reader's.
    """
    cells = list(cells)
    paths = sorted({c.run.spec_path for c in cells if c.run is not None and c.run.spec_path})
    spec = portable_spec(paths[0]) if len(paths) == 1 else "SPEC"
    parts = ["recsec", "run", *([shlex.quote(spec)] if spec else []), f"--data-dir {DATA_DIR}", f"--db {DB}"]
    for f in fields:
        values = sorted({str(c.seed) if f == "seed" else c.component(f).instance for c in cells}, key=lambda v: (len(v), v))
        parts += [f"--only {shlex.quote(f'{f}={v}')}" for v in values]
    return " ".join(parts)
