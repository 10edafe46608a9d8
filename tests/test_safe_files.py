"""Files are data, never code: checkpoints and training state load with weights_only=True."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from recsec.context import RunContext  # noqa: E402
from recsec.data import leave_one_out  # noqa: E402
from recsec.errors import PluginOutputError  # noqa: E402
from recsec.queries import Queries  # noqa: E402
from recsec.testing import tiny_interactions  # noqa: E402


class _Payload:
    """Unpickling this runs code: what a hostile checkpoint would carry."""

    def __reduce__(self):
        return (os.system, ("touch /tmp/recsec-pwned",))


def _hostile(path: Path) -> Path:
    torch.save({"name": "sasrec", "payload": _Payload()}, path)
    return path


@pytest.fixture()
def split():
    return leave_one_out(tiny_interactions(n_users=40))


def test_a_spec_checkpoint_with_code_is_refused_and_runs_nothing(tmp_path, split):
    from recsec.plugins.recommenders.sasrec import SASRec

    marker = Path("/tmp/recsec-pwned")
    marker.unlink(missing_ok=True)
    rec = SASRec(checkpoint=str(_hostile(tmp_path / "evil.pt")), max_len=10)
    with pytest.raises(ValueError, match="loads as data only"):
        rec.fit(split, RunContext(seed=0, device=torch.device("cpu")))
    assert not marker.exists()


def test_checkpoint_digest_is_checked(tmp_path, split):
    from recsec.plugins.recommenders.sasrec import SASRec

    trained = SASRec(max_epochs=1, patience=0, max_len=10)
    trained.fit(split, RunContext(seed=0, device=torch.device("cpu")))
    path = tmp_path / "victim.pt"
    trained.save(path)
    from recsec.datacache import sha256_file

    good = SASRec(checkpoint=str(path), checkpoint_sha256=sha256_file(path), max_len=10)
    good.fit(split, RunContext(seed=0, device=torch.device("cpu")))
    bad = SASRec(checkpoint=str(path), checkpoint_sha256="0" * 64, max_len=10)
    with pytest.raises(ValueError, match="has sha256"):
        bad.fit(split, RunContext(seed=0, device=torch.device("cpu")))


def test_numpy_states_round_trip_and_objects_are_refused_at_save(tmp_path, split):
    from recsec.plugins.recommenders.itemcf import ItemCF

    rec = ItemCF()
    rec.fit(split, RunContext(seed=0, device=torch.device("cpu")))
    rec.save(tmp_path / "cf.pt")
    back = ItemCF()
    back.load(tmp_path / "cf.pt")
    q = Queries(split.test.histories, split.test.users)
    assert np.array_equal(rec.topk(q, 5), back.topk(q, 5))
    rec.state = lambda: {"n_items": 3, "thing": _Payload()}  # type: ignore[method-assign]
    with pytest.raises(PluginOutputError, match="cannot be saved"):
        rec.save(tmp_path / "bad.pt")


def test_training_state_with_code_is_refused(tmp_path):
    from recsec.plugins.sequential.resume import read_state

    marker = Path("/tmp/recsec-pwned")
    marker.unlink(missing_ok=True)
    with pytest.raises(ValueError, match="does not load as data only"):
        read_state(_hostile(tmp_path / "state.pt"))
    assert not marker.exists()
