"""The README's Python example runs as it stands: a spec run through ``recsec.run``, its
results as a pandas DataFrame, a plot written to a file."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_readme_python_example_runs_and_plots(tmp_path):
    pytest.importorskip("matplotlib")
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## From Python"):readme.index("## Reading results")]
    (code,) = re.findall(r"```python\n(.*?)```", section, re.S)
    code = code.replace("benchmarks/quickstart.toml", str(ROOT / "benchmarks" / "quickstart.toml"))
    (tmp_path / "example.py").write_text(code)
    done = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "{'done': 6, 'cached': 0, 'failed': 0, 'skipped': 0}" in done.stdout
    assert "random-replacement" in done.stdout and "attack.agr@10" in done.stdout
    assert (tmp_path / "quickstart.png").stat().st_size > 5000
