"""The wheel: one import package `recsec`, migrations and templates inside, a working CLI.

Builds the wheel, installs it (without dependencies) into a fresh virtual
environment that borrows this environment's dependencies through a .pth file,
and runs the installed `recsec` from a directory outside the repository.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_folder_is_listed_in_pyproject():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(cfg["packages"])
    mapping = cfg["package-dir"]
    found = set()
    for pkg, folder in mapping.items():
        for d in [ROOT / folder, *(p for p in (ROOT / folder).rglob("*") if p.is_dir())]:
            if "__pycache__" in d.parts or "templates" in d.parts:
                continue
            if any(d.glob("*.py")):
                rel = d.relative_to(ROOT / folder).parts
                found.add(".".join((pkg, *rel)))
    assert found <= listed, f"package folders missing from pyproject's packages list: {sorted(found - listed)}"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        text=True,
    )
    (whl,) = out.glob("recsec-*.whl")
    return whl


def test_wheel_contains_only_the_recsec_package(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert tops == {"recsec"}, f"unexpected top-level entries in the wheel: {tops}"
    for needed in ("recsec/migrations/env.py", "recsec/migrations/script.py.mako", "recsec/default.toml", "recsec/reports/templates/"):
        assert any(n.startswith(needed) for n in names), f"{needed} missing from the wheel"
    assert any(n.startswith("recsec/migrations/versions/") and n.endswith(".py") for n in names)


@pytest.mark.slow
def test_installed_wheel_runs_outside_the_repository(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    py = env_dir / "bin" / "python"
    site = Path(subprocess.check_output([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True).strip())
    # recsec itself only from the new wheel (installed before the dependencies are
    # made visible, or pip would find this environment's recsec and skip it) ...
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "-q", str(wheel)], check=True)
    # ... and its dependencies from this environment, appended after the fresh site-packages
    here = [p for p in sys.path if p.endswith("site-packages")]
    (site / "_deps.pth").write_text("\n".join(here) + "\n")
    assert not (site / "core").exists() and not (site / "plugins").exists() and not (site / "alembic").exists()
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {**os.environ, "PYTHONNOUSERSITE": "1", "RECSEC_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("PYTHONPATH", None)
    recsec = env_dir / "bin" / "recsec"

    def run(*args: str) -> str:
        r = subprocess.run([str(recsec), *args], cwd=work, env=env, capture_output=True, text=True)
        assert r.returncode == 0, f"recsec {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}"
        return r.stdout

    where = subprocess.check_output([py, "-c", "import recsec; print(recsec.__file__)"], cwd=work, env=env, text=True)
    assert str(site) in where, f"recsec imported from {where}, not the fresh environment"
    assert "lfm" in run("plugins")
    db = f"sqlite:///{work / 'x.db'}"
    assert "schema at" in run("db", "upgrade", "--db", db)
    run("validate")  # the default spec shipped inside the package
    run("report", "--db", db, "--out", str(work / "site"))
    assert (work / "site" / "index.html").exists()
