"""The benchmark scripts a GPU lease runs still run against today's contracts.

A GPU lease is 15 minutes and one call: a script that broke when a contract changed
(``fit`` now returns a ``TrainReport``) would waste it. Tiny data, one epoch each.
"""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _sequence_file(path: Path, users: int = 60, items: int = 40, length: int = 12) -> Path:
    """An S3-Rec style file (``user item item ...``, chronological) every user of which passes 5/5."""
    rng = np.random.default_rng(0)
    with open(path, "w") as fh:
        for u in range(1, users + 1):
            fh.write(" ".join(map(str, [u, *rng.integers(1, items + 1, length)])) + "\n")
    return path


def _run(script: str, argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", [script, *argv])
    runpy.run_path(str(ROOT / script), run_name="__main__")


def test_seq_check_trains_evaluates_and_saves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    data = _sequence_file(tmp_path / "seqs.txt")
    out, ckpt = tmp_path / "out.jsonl", tmp_path / "victim.pt"
    _run("benchmarks/seq_check.py", ["--data", str(data), "--model", "sasrec", "--epochs", "1", "--patience", "0",
                                     "--device", "cpu", "--set", "hidden=8", "max_len=10", "--out", str(out),
                                     "--save", str(ckpt), "--work-dir", str(tmp_path / "work")], monkeypatch)
    record = json.loads(out.read_text().splitlines()[-1])
    assert record["train"]["epochs"] == 1 and record["counts"]["filtered"]["users"] == 60
    assert 0.0 <= record["test_full"]["ndcg@10"] <= record["test_full"]["hr@10"] <= 1.0
    assert ckpt.is_file() and "RESULT sasrec:" in capsys.readouterr().out
