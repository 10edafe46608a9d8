"""The attacker in its own process (recsec.isolation): what the threat model withholds is out of reach."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from recsec.arena import Arena  # noqa: E402
from recsec.runner import RunOptions, Runner  # noqa: E402
from recsec.spec import parse_spec  # noqa: E402
from recsec.storage import repository as repo  # noqa: E402
from recsec.testing import tiny_interactions  # noqa: E402

SPEC = """
datasets = ["toy-data"]
recommenders = {recommenders}
attacks = {attacks}
defenses = {defenses}

[benchmark]
name = "peeking"
k = 10
seeds = [0]
"""


@pytest.fixture
def peeking_registry(monkeypatch, toy_registry):
    from conftest import THIRDPARTY

    monkeypatch.syspath_prepend(str(THIRDPARTY))
    import recsec_peeking_plugin

    toy_registry.register_plugin(recsec_peeking_plugin, "recsec-peeking")
    return toy_registry


def _cells(registry, storage, tmp_path, attacks, recommenders='["toy-popular"]', defenses='["none"]', key="attack"):
    text = SPEC.format(recommenders=recommenders, attacks=attacks, defenses=defenses)
    opts = RunOptions(device="cpu", artifacts_dir=tmp_path / "artifacts", log=lambda m: None)
    Runner(parse_spec(text, registry, "peeking.toml"), storage, opts).run()
    with storage.transaction() as s:
        return {getattr(c, key): c for c in repo.list_cells(s)}


def test_an_attack_finds_no_victim_in_its_process(peeking_registry, storage, tmp_path):
    cells = _cells(peeking_registry, storage, tmp_path, '["peek-victim[how=field]", "peek-victim[how=gc]", "toy-probe"]')
    for name in ("peek-victim[how=field]", "peek-victim[how=gc]"):
        c = cells[name]
        assert c.status == "failed" and "no victim within reach" in c.error, (name, c.status, c.error, c.metrics)
        assert "LookupError" in c.traceback  # the attacker process's traceback comes back with the cell
    assert cells["toy-probe"].status == "done"  # an honest attack beside them is judged as usual


def test_membership_labels_are_out_of_reach(peeking_registry, storage, tmp_path):
    cells = _cells(peeking_registry, storage, tmp_path, '["peek-labels"]')
    c = cells["peek-labels"]
    assert c.status == "failed" and "no labels within reach" in c.error, (c.status, c.error, c.metrics)


def test_in_the_arenas_process_the_same_attack_would_steal(peeking_registry):
    """The control: without isolation the peeking attack finds the victim (so the test above tests isolation)."""
    import recsec_peeking_plugin as peek
    from recsec.plugins.recommenders.popular import MostPopular as Popular

    # A decoy over the same catalogue stays alive (as other tests' models do in one pytest
    # process): the thief must still pick the victim it is served by.
    decoy = Arena.for_testing(recommender=Popular(), data=tiny_interactions(n_users=30, seed=7), k=10)
    arena = Arena.for_testing(recommender=Popular(), data=tiny_interactions(n_users=30), k=10)
    verdict = arena.attack(peek.PeekVictim(how="gc"))
    del decoy  # alive until here, beside the victim
    assert verdict.metrics["attack.agr@10"] == 1.0


def test_isolated_and_in_process_attacks_give_one_result():
    from recsec.plugins.attacks.extraction import DFMEAutoregressive
    from recsec.plugins.recommenders.sasrec import SASRec

    data = tiny_interactions(n_users=60)
    runs = []
    for isolate in (False, True):
        arena = Arena.for_testing(recommender=SASRec(max_epochs=2, patience=0, max_len=12), data=data, k=10,
                                  isolate=isolate)
        runs.append(arena.attack(DFMEAutoregressive(n_sequences=30, seq_len=6, epochs=2, patience=0, gen_batch=16)))
    assert runs[0].metrics == runs[1].metrics and runs[0].metrics["attack.queries"] == 180


def test_a_dying_attack_process_fails_its_cell_and_is_replaced(peeking_registry):
    import recsec_peeking_plugin as peek
    from recsec.errors import PluginError
    from recsec.plugins.recommenders.popular import MostPopular

    arena = Arena.for_testing(recommender=MostPopular(), data=tiny_interactions(n_users=30), k=10, isolate=True)
    with pytest.raises(PluginError, match=r"attack 'exits': run\(\): AttackProcessDied: .*exit code 3"):
        arena.attack(peek.Exits())
    with pytest.raises(PluginError, match="no victim within reach"):  # a new worker serves the next attack
        arena.attack(peek.PeekVictim(how="gc"))


def test_a_recommender_cannot_write_into_shared_data(peeking_registry, storage, tmp_path):
    from recsec.storage.db import Storage

    both = _cells(peeking_registry, storage, tmp_path, '["toy-probe"]', recommenders='["scribbler", "toy-popular"]',
                  key="recommender")
    lone = Storage(f"sqlite:///{tmp_path / 'alone.db'}")
    lone.upgrade()
    alone = _cells(peeking_registry, lone, tmp_path / "alone", '["toy-probe"]', key="recommender")
    # its writes into the shared split and the judges' queries are refused, named, and its cell fails ...
    assert both["scribbler"].status == "failed" and "read-only" in both["scribbler"].error
    # ... and the healthy cell after it is scored on the data as it was
    judged = {k: v for k, v in both["toy-popular"].metrics.items() if not k.startswith("victim.peak")}
    assert both["toy-popular"].status == "done"
    assert judged == {k: v for k, v in alone["toy-popular"].metrics.items() if not k.startswith("victim.peak")}


def test_a_defense_cannot_tell_the_judge_from_an_attacker(peeking_registry, storage, tmp_path):
    import re

    import recsec_peeking_plugin as peek

    peek.SEEN.clear()
    cells = _cells(peeking_registry, storage, tmp_path, '["toy-probe"]', defenses='["spotter", "toy-reverse"]',
                   key="defense")
    ids = {c.id for c in peek.SEEN}
    assert all(re.fullmatch(r"account-[0-9a-f]{16}", i) for i in ids) and not any(hasattr(c, "kind") for c in peek.SEEN)
    assert len(ids) > 2  # one account per test user for the judge, one for the attacker
    # it reversed the judge's lists too: its utility cost is the reversing defense's, not zero
    assert cells["spotter"].metrics["defended.hr@10"] == cells["toy-reverse"].metrics["defended.hr@10"]


def test_the_black_box_refuses_histories_outside_the_catalogue():
    from recsec.blackbox import AccountKind
    from recsec.plugins.recommenders.popular import MostPopular
    from recsec.threat import Serving

    arena = Arena.for_testing(recommender=MostPopular(), data=tiny_interactions(n_users=30), k=10)
    api = arena.serve(AccountKind.ATTACKER, Serving(k=10))
    n = arena.n_items
    for bad, msg in (([-1], "item -1 is outside"), ([n], f"item {n} is outside"), ([2.7], "integer item ids")):
        with pytest.raises(ValueError, match=msg):
            api.query([bad])
    assert api.queries_used == 0 and len(api.log) == 0  # nothing was answered or counted


def test_a_no_op_defense_costs_nothing():
    from recsec.plugins.defenses.none import NoDefense
    from recsec.testing.checks import _Popularity

    arena = Arena.for_testing(recommender=_Popularity(), data=tiny_interactions(n_users=60), k=10, defense=NoDefense())
    assert arena.utility()["defended.hr@10_cost"] == 0.0


def test_the_pollution_judge_asks_as_each_user():
    """A per-account quota must not see the judge's before/after measurement as one heavy account."""
    import numpy as np

    from recsec.defense import Defense
    from recsec.plugins.attacks.pollution import ProfilePollution
    from recsec.plugins.recommenders.sasrec import SASRec

    class Quota(Defense):
        name = "quota"
        shortens_lists = True

        def __init__(self, **given):
            super().__init__(**given)
            self.used: dict[str, int] = {}

        def answer(self, queries, lists, personalised, account, rng):
            n = self.used[account.id] = self.used.get(account.id, 0) + len(queries)
            return (lists if n <= 3 else lists[:, :1]), np.zeros(len(queries), dtype=bool)

    data = tiny_interactions(n_users=60)
    attack = dict(n_sequences=30, seq_len=6, epochs=2, patience=0, gen_batch=16, max_queries=400,
                  n_targets=2, n_users=10, n_append=2, n_candidates=3)
    judged = []
    for defense in (None, Quota()):
        arena = Arena.for_testing(recommender=SASRec(max_epochs=2, patience=0, max_len=12), data=data, k=10,
                                  defense=defense)
        m = arena.attack(ProfilePollution(**attack), budget=None).metrics
        judged.append({k: v for k, v in m.items() if k.startswith("attack.target_")})
    # the attacker's own 400 queries exhaust its quota, so what it learned differs; the judge's lists do not
    assert judged[0]["attack.target_ndcg@10_before"] == judged[1]["attack.target_ndcg@10_before"]
