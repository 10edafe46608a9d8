"""Every spec shipped in benchmarks/ parses and names registered components with valid parameters.

A spec that rots (a renamed parameter, a removed plugin) would otherwise surface only when
someone spends a GPU lease or an hour of CPU on it. ``recsec validate`` expands the matrix
without loading data (absent data only leaves the cells' keys unknown).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from recsec.cli import main

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
SPECS = sorted(BENCHMARKS.rglob("*.toml"))


def test_benchmarks_ship_specs() -> None:
    assert len(SPECS) >= 30, "benchmarks/ lost its specs"


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: str(p.relative_to(BENCHMARKS)))
def test_shipped_spec_validates(spec: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("RECSEC_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)  # no relative data or checkpoint path may resolve by accident
    rc = main(["validate", str(spec), "--data-dir", str(tmp_path)])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "error" not in err.lower(), err
