"""The README's worked example plugins, installed as a real third-party package.

``tests/example_plugin`` is a distribution of its own (``recsec-example``): a
membership-inference attack, an extraction attack and an output-perturbation defense,
each one module. The test installs it with pip into a folder, then, as a user would:
``recsec plugins`` lists it, a spec runs it against built-ins, the report renders it and
the conformance kit passes; and the README's listings are these very files.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "tests" / "example_plugin"

SPEC = """
datasets = ["synthetic[n_users=200,n_items=60,mean_events=25.0]"]
recommenders = ["itemcf", "sasrec[hidden=16,max_len=20,n_blocks=1,max_epochs=2]"]
attacks = ["popularity-gap", "copycat[holdout=20]"]
defenses = ["none", "block-shuffle"]

[benchmark]
name = "example-plugins"
seeds = [0]
k = 20
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict[str, str]:
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(EXAMPLE)], check=True, capture_output=True, text=True)
    env = {**os.environ, "PYTHONPATH": str(target)}
    env.pop("RECSEC_DB", None)
    return env


def _recsec(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("recsec")
    return subprocess.run([str(exe), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=600)


def test_the_example_package_is_listed_run_reported_and_conformant(installed, tmp_path):
    listed = _recsec(installed, "plugins", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    out = json.loads(listed.stdout)
    names = {c["name"]: c for kind in out["components"].values() for c in kind}
    for name in ("popularity-gap", "copycat", "block-shuffle"):
        assert names[name]["plugin"] == "recsec-example:example" and names[name]["plugin_version"] == "1.0"
    assert not [f for f in out["failures"] if "example" in f["plugin"]]

    (tmp_path / "spec.toml").write_text(SPEC)
    ran = _recsec(installed, "run", "spec.toml", "--no-progress", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert "4 done" in ran.stderr and "4 skipped" in ran.stderr and "0 failed" in ran.stderr
    from recsec.storage import repository as repo
    from recsec.storage.db import Storage

    with Storage(f"sqlite:///{tmp_path / 'recsec.db'}").transaction() as s:
        done = {(c.recommender.split("[")[0], c.attack.split("[")[0], c.defense): c for c in repo.list_cells(s, status="done")}
    gap = done[("itemcf", "popularity-gap", "none")]
    assert gap.metrics["attack.auc"] > 0.8  # strangers get the popular list
    copy = done[("sasrec", "copycat", "none")]
    assert 0 < copy.metrics["attack.agr@10"] <= 1 and "attack.holdout_agr@10" in copy.metrics
    assert copy.diagnostics["diag.queries_sent"] > 0

    report = _recsec(installed, "report", "--out", "site", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    pages = " ".join(p.read_text() for p in (tmp_path / "site").rglob("*.html"))
    assert "popularity-gap" in pages and "block-shuffle" in pages

    kit = subprocess.run([sys.executable, "-c", (
        "from recsec.testing import check_attack, check_defense\n"
        "from recsec.registry import default_registry as r\n"
        "from recsec_example import BlockShuffle, Copycat, PopularityGap\n"
        "sasrec = r().create('recommender', 'sasrec[hidden=16,max_len=10,n_blocks=1,max_epochs=1]')\n"
        "check_attack(PopularityGap)\n"
        "check_attack(Copycat, recommender=sasrec)\n"
        "check_defense(BlockShuffle)\n"
        "print('conformant')\n")], env=installed, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert kit.returncode == 0 and "conformant" in kit.stdout, kit.stderr


def test_the_readme_shows_the_example_modules_verbatim_and_each_is_short():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n# (recsec_example/\w+\.py)\n(.*?)```", readme, re.S)
    shown = {name: body for name, body in blocks}
    for module in ("membership.py", "extraction.py", "defense.py"):
        text = (EXAMPLE / "recsec_example" / module).read_text()
        assert len(text.splitlines()) < 60, module
        assert shown.get(f"recsec_example/{module}") == text, f"README's listing of {module} differs from the file"
