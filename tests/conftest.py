"""Shared fixtures. Database fixtures live in tests/db_fixtures.py (imported below)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
THIRDPARTY = Path(__file__).parent / "thirdparty"


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path, monkeypatch):
    """No test reads the developer's database, cache or data directory by accident."""
    monkeypatch.setenv("RECSEC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("RECSEC_DB", raising=False)
    monkeypatch.delenv("RECSEC_DATA_DIR", raising=False)


@pytest.fixture
def one_torch_thread():
    """Tiny tensors: threading costs more than it gains on a shared 2-core machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def shared_data(monkeypatch) -> Path:
    """../shared/data as RECSEC_DATA_DIR; skips cleanly when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real benchmark files not present at {SHARED_DATA}")
    monkeypatch.setenv("RECSEC_DATA_DIR", str(SHARED_DATA))
    return SHARED_DATA


def _write_dist(root: Path, name: str, version: str, entry_points: dict[str, str]) -> None:
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    eps = "[recsec]\n" + "".join(f"{k} = {v}\n" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(eps)


@pytest.fixture
def thirdparty_dists(tmp_path, monkeypatch):
    """Fake installed distributions advertising recsec entry points: a working
    third-party plugin, one whose hook raises, and one that cannot be imported."""
    site = tmp_path / "site"
    _write_dist(site, "recsec-toy", "0.3", {"toy": "recsec_toy_plugin"})
    _write_dist(site, "recsec-broken", "1.0", {"broken": "recsec_broken_plugin"})
    _write_dist(site, "recsec-missing", "1.0", {"missing": "recsec_no_such_module"})
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.syspath_prepend(str(THIRDPARTY))
    import recsec.registry

    monkeypatch.setattr(recsec.registry, "_DEFAULT", None)
    yield site


@pytest.fixture
def impostor_dists(thirdparty_dists):
    """Also a distribution that sorts before recsec and registers built-in and toy names
    (tests/thirdparty/recsec_impostor_plugin.py)."""
    _write_dist(thirdparty_dists, "aaa-impostor", "9.9", {"impostor": "recsec_impostor_plugin"})
    return thirdparty_dists


@pytest.fixture
def toy_registry(monkeypatch):
    """The installed registry plus the toy plugin (registered directly)."""
    monkeypatch.syspath_prepend(str(THIRDPARTY))
    import recsec_toy_plugin

    from recsec.registry import load_registry

    recsec_toy_plugin.INTERRUPT["at"] = None
    for k in recsec_toy_plugin.CALLS:
        recsec_toy_plugin.CALLS[k] = 0
    return load_registry(extra_plugins=[("recsec-toy", recsec_toy_plugin)])


if os.environ.get("RECSEC_TEST_THREADS"):
    import torch

    torch.set_num_threads(int(os.environ["RECSEC_TEST_THREADS"]))

sys.path.insert(0, str(Path(__file__).parent))
from db_fixtures import *  # noqa: E402,F401,F403  (database fixtures shared by storage and runner tests)
