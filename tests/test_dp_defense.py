"""Differentially private training (dp-sgd through Opacus) of the torch factor model (fism)."""

from __future__ import annotations

import numpy as np
import pytest

from recsec.arena import Arena
from recsec.plugins.defenses.dp_sgd import DPSGD
from recsec.plugins.recommenders.fism import FISM
from recsec.plugins.recommenders.lfm import LFM
from recsec.queries import Queries
from recsec.registry import load_registry
from recsec.runner import RunOptions, Runner
from recsec.spec import parse_spec
from recsec.storage import repository as repo
from recsec.testing import check_recommender, tiny_interactions

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = dict(dim=8, epochs=3, batch_size=16)


def dp_arena(seed: int = 0, **params) -> Arena:
    return Arena.for_testing(recommender=FISM(**SMALL), data=tiny_interactions(n_users=64), defense=DPSGD(**params),
                             seed=seed)


def test_fism_conformance_and_no_user_state():
    rec = check_recommender(FISM, **SMALL)
    h = [np.array([1, 2, 3])]
    member = rec.score(Queries(h, np.array([0]))).numpy()
    stranger = rec.score(Queries(h)).numpy()
    np.testing.assert_array_equal(member, stranger)  # a member's list is the list of anyone with its history
    assert rec.knows(np.array([0, 10_000])).tolist() == [True, False]


def test_fism_learns_the_toy_pattern():
    from recsec.evaluation import evaluate

    arena = Arena.for_testing(recommender=FISM(dim=16, epochs=20, lr=0.01), data=tiny_interactions())
    hr = evaluate(arena.victim, arena.split.test, mode="full", ks=(10,))["hr@10"]
    assert hr > 0.4, hr  # 50 items, two taste clusters: random is 0.2


def test_epsilon_is_opacus_accounting_of_the_steps_taken():
    from opacus.accountants import RDPAccountant

    stats = dp_arena(noise_multiplier=1.0).report.stats
    q, steps = stats["dp_sample_rate"], stats["dp_steps"]
    n_users = 64 - 0  # every toy user trains (leave-one-out keeps them all)
    assert q == pytest.approx(1 / np.ceil(n_users / SMALL["batch_size"]))
    assert steps == SMALL["epochs"] / q  # Poisson sampling: 1/q steps per epoch
    ref = RDPAccountant()
    ref.history = [(1.0, q, int(steps))]
    assert stats["dp_epsilon"] == pytest.approx(ref.get_epsilon(1e-5))
    assert stats["dp_delta"] == 1e-5 and stats["dp_noise_multiplier"] == 1.0


def test_more_noise_more_privacy_and_noise_changes_the_model():
    loud, quiet = dp_arena(noise_multiplier=4.0), dp_arena(noise_multiplier=0.5)
    assert loud.report.stats["dp_epsilon"] < quiet.report.stats["dp_epsilon"]
    control = dp_arena(noise_multiplier=0.0)
    assert "dp_epsilon" not in control.report.stats  # clipping only: no guarantee, nothing stored
    plain = Arena.for_testing(recommender=FISM(**SMALL), data=tiny_interactions(n_users=64))
    q = Queries(plain.split.test.histories[:5])
    w = {name: a.victim.score(q).numpy() for name, a in (("loud", loud), ("control", control), ("plain", plain))}
    assert not np.allclose(w["loud"], w["plain"]) and not np.allclose(w["control"], w["plain"])
    again = dp_arena(noise_multiplier=4.0)
    np.testing.assert_array_equal(again.victim.score(q).numpy(), w["loud"])  # seeded noise: reproducible


def test_dp_sgd_skips_victims_opacus_cannot_train():
    assert "fism" in DPSGD().skip(recommender=LFM())
    assert DPSGD().skip(recommender=FISM()) is None
    with pytest.raises(ValueError, match="private="):
        DPSGD().train_victim(LFM(), None, None)  # type: ignore[arg-type]


def test_every_cell_stores_epsilon(sqlite_url, tmp_path):
    from recsec.storage import Storage

    spec = parse_spec("""
datasets = ["synthetic[n_users=120,n_items=60,mean_events=20.0,min_events=12]"]
recommenders = ["fism[dim=8,epochs=2]"]
attacks = ["mia-metric[min_interactions=10,k=10,dim=8,nonmember_lists=foldin]"]
defenses = ["none", "dp-sgd[noise_multiplier=1.0]", "dp-sgd[noise_multiplier=0.0]"]
[benchmark]
name = "dp"
seeds = [0]
""", load_registry(), "dp.toml")
    store = Storage(sqlite_url)
    store.upgrade()
    summary = Runner(spec, store, RunOptions(device="cpu", artifacts_dir=tmp_path / "a", log=lambda m: None)).run()
    assert summary.counts["done"] == 3, summary.counts
    with store.transaction() as s:
        cells = {c.defense: c for c in repo.list_cells(s)}
    assert cells["dp-sgd[noise_multiplier=1.0]"].metrics["victim.dp_epsilon"] > 0
    assert "attack.auc" in cells["dp-sgd[noise_multiplier=1.0]"].metrics
    assert "victim.dp_epsilon" not in cells["none"].metrics
    assert cells["dp-sgd[noise_multiplier=0.0]"].metrics["victim.dp_noise_multiplier"] == 0.0
    store.dispose()


def test_dp_sgd_conformance():
    from recsec.testing import check_defense

    metrics = check_defense(DPSGD, recommender=FISM(**SMALL), noise_multiplier=1.0)
    assert metrics["defended.hr@10"] == metrics["utility.hr@10"]  # answers are not changed
