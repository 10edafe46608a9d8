"""An interrupted attack resumes: the journal of the victim's answers and the surrogate's per-pass state."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from recsec.arena import Arena  # noqa: E402
from recsec.journal import AnswerJournal  # noqa: E402
from recsec.queries import Queries  # noqa: E402
from recsec.testing import tiny_interactions  # noqa: E402

FAST = dict(n_sequences=80, seq_len=10, patience=0, gen_batch=32)


@pytest.fixture(scope="module")
def arena():
    from recsec.plugins.recommenders.sasrec import SASRec

    torch.set_num_threads(1)
    return Arena.for_testing(recommender=SASRec(max_epochs=6, patience=0, dropout=0.1, max_len=16),
                             data=tiny_interactions(n_users=120), k=10)


def _attack(**kw):
    from recsec.plugins.attacks.extraction import DFMEAutoregressive

    return DFMEAutoregressive(**{**FAST, **kw})


def _run(arena, folder, attack):
    arena.attack_dir = folder
    try:
        return arena.attack(attack)
    finally:
        arena.attack_dir = None


def test_a_rerun_answers_from_the_journal_and_gives_the_same_verdict(arena, tmp_path, monkeypatch):
    calls: list[int] = []
    real = arena.victim.topk
    monkeypatch.setattr(arena.victim, "topk", lambda q, *a, **k: calls.append(len(q)) or real(q, *a, **k))
    first = _run(arena, tmp_path, _attack(epochs=2))
    assert list((tmp_path / "answers").glob("*.npy")), "the black box wrote no journal"
    in_first, calls[:] = list(calls), []
    again = _run(arena, tmp_path, _attack(epochs=2))
    # only the judges' own reference lists are computed again, none of the attacker's 800 queries
    assert sum(in_first) - sum(calls) == 80 * 10
    assert again.metrics == first.metrics  # queries counted, lists and judged numbers the same


def test_a_larger_epoch_limit_continues_the_stored_surrogate(arena, tmp_path):
    straight = _run(arena, tmp_path / "a", _attack(epochs=4))
    _run(arena, tmp_path / "b", _attack(epochs=2))
    resumed = _run(arena, tmp_path / "b", _attack(epochs=4))
    assert resumed.diagnostics["diag.epochs"] == 4
    assert [r["holdout_agr@10"] for r in resumed.curves["surrogate"]] == \
        [r["holdout_agr@10"] for r in straight.curves["surrogate"]]
    assert resumed.metrics == straight.metrics


def test_a_journal_file_of_the_wrong_shape_is_recomputed(tmp_path):
    j = AnswerJournal(tmp_path)
    q = Queries([np.array([1, 2]), np.array([3])])
    j.put(q, 3, True, np.array([[4, 5, 6], [7, 8, 9]]))
    assert j.get(q, 3, True).tolist() == [[4, 5, 6], [7, 8, 9]]
    assert j.get(q, 3, False) is None  # another history rule is another answer
    path = next(tmp_path.glob("*.npy"))
    np.save(path, np.zeros((1, 3), dtype=np.int32))
    assert j.get(q, 3, True) is None
    path.write_bytes(b"\x80\x04 not an array")
    assert j.get(q, 3, True) is None
