"""Parameters, naming, metrics and the black-box API on hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest

from recsec import metrics
from recsec.blackbox import AccountKind, BlackBoxAPI
from recsec.data import leave_one_out
from recsec.errors import BudgetExhausted, ParameterError
from recsec.params import Param, ParamSet, instance_name, parse_assignments, parse_instance_name
from recsec.queries import Queries
from recsec.testing import check_recommender, tiny_interactions
from recsec.testing.checks import _Popularity, _popular_victim
from recsec.threat import Serving


def test_instance_names_round_trip():
    assert instance_name("lfm", {"lr": 0.01, "dim": 64, "bias": True, "mode": "bpr"}) == "lfm[bias=true,dim=64,lr=0.01,mode=bpr]"
    assert parse_instance_name("lfm[bias=true,dim=64,lr=0.01,mode=bpr]") == ("lfm", {"bias": True, "dim": 64, "lr": 0.01, "mode": "bpr"})
    assert parse_instance_name("  itemcf ") == ("itemcf", {})


def test_command_line_assignments_parse_like_instance_names():
    assert parse_assignments(["lr=0.01", "mode = bpr", "bias=true", 'tag="a,b"']) == {
        "lr": 0.01, "mode": "bpr", "bias": True, "tag": "a,b"}
    with pytest.raises(ParameterError, match="'lr' is not key=value"):
        parse_assignments(["lr"])


def test_params_validate_types_and_choices():
    declared = {"lr": Param(0.01, low=1e-4, high=1.0, log=True), "n": Param(3), "mode": Param("a", choices=("a", "b"))}
    ps = ParamSet.build("attack 'x'", declared, {"lr": 1, "n": 4.0})
    assert ps.values == {"lr": 1.0, "n": 4, "mode": "a"}
    with pytest.raises(ParameterError, match=r"attack 'x': parameter 'n': expected an integer"):
        ParamSet.build("attack 'x'", declared, {"n": 2.5})
    with pytest.raises(ParameterError, match=r"'c' is not one of 'a', 'b'"):
        ParamSet.build("attack 'x'", declared, {"mode": "c"})
    with pytest.raises(ParameterError, match=r"unknown parameter 'm'"):
        ParamSet.build("attack 'x'", declared, {"m": 1})


def test_a_param_outside_the_default_search_keeps_its_space_for_named_studies():
    from recsec.plugins.attacks.extraction import DFMEAutoregressive
    from recsec.plugins.defenses.gro import GRO
    from recsec.tuning import search_names

    switch = Param("independent", choices=("independent", "reference"), search=False)
    assert switch.has_space and not switch.tunable and switch.describe()["search"] is False
    assert "search" not in Param(0.1, low=0.0, high=1.0).describe()
    attack = DFMEAutoregressive(epochs=3)
    default = search_names(attack, None)
    assert "surrogate_init" not in default and "epochs" not in default  # a protocol switch; fixed in the spec
    assert {"lr", "n_sequences", "surrogate"} <= set(default)
    assert search_names(attack, ["surrogate_init"]) == ["surrogate_init"]  # still searchable when named
    assert "zero_rows" not in search_names(GRO(), None) and "lam" in search_names(GRO(), None)


def test_roc_auc_matches_hand_computation_with_ties():
    y = np.array([1, 1, 0, 0, 1, 0])
    s = np.array([0.9, 0.5, 0.5, 0.1, 0.8, 0.7])
    # pairs (pos, neg): 9 in all; wins: 0.9>all 3, 0.8>all 3, 0.5>0.1 and tie with 0.5 -> 1.5
    assert metrics.roc_auc(y, s) == pytest.approx(7.5 / 9)
    assert metrics.roc_auc(y, -s) == pytest.approx(1 - 7.5 / 9)
    assert metrics.tpr_at_fpr(y, s, 0.0) == pytest.approx(2 / 3)
    assert metrics.fpr_at_tpr(y, s, 1.0) == pytest.approx(2 / 3)
    assert metrics.balanced_accuracy(y, s > 0.6) == pytest.approx(0.5 * (2 / 3 + 2 / 3))
    # AP: ranked 0.9(+) 0.8(+) 0.7(-) {0.5+,0.5-} 0.1(-): precision at recall steps 1/3,2/3 = 1, 1; last step 3/5
    assert metrics.average_precision(y, s) == pytest.approx((1 + 1 + 3 / 5) / 3)


def test_ranking_metrics_and_agreement_on_toy_lists():
    m = metrics.ranking_metrics(np.array([0, 2, 15]), ks=(1, 10))
    assert m["hr@1"] == pytest.approx(1 / 3) and m["hr@10"] == pytest.approx(2 / 3)
    assert m["ndcg@10"] == pytest.approx((1 + 1 / np.log2(4)) / 3)
    a = np.array([[1, 2, 3, 4], [5, 6, 7, 8]])
    b = np.array([[2, 1, 9, 4], [9, 10, 11, 5]])
    assert metrics.agreement_at_k(a, b, 1) == pytest.approx(0.0)
    assert metrics.agreement_at_k(a, b, 2) == pytest.approx((2 / 2 + 0 / 2) / 2)
    assert metrics.agreement_at_k(a, b, 4) == pytest.approx((3 / 4 + 1 / 4) / 2)


def test_blackbox_budget_is_exact_and_logged():
    split = leave_one_out(tiny_interactions())
    victim = _popular_victim(split)
    api = BlackBoxAPI(victim, Serving(k=5, budget=7), popular=split.train.popularity_ranking())
    q = Queries(split.test.histories[:4])
    assert api.query(q).shape == (4, 5)
    with pytest.raises(BudgetExhausted, match="budget of 7"):
        api.query(q)  # 4 + 4 > 7: refused whole, nothing answered
    assert api.queries_used == 4 and api.remaining == 3
    api.query(q.slice(0, 3), account="sybil")
    assert api.queries_used == 7 and len(api.log) == 7 and api.queries_by_account == {"attacker": 4, "sybil": 3}
    assert {r.account.kind for r in api.log.records} == {AccountKind.ATTACKER}
    # the evaluator is another API: it has no budget, and an attacker cannot pass for it
    evaluator = BlackBoxAPI(victim, Serving(k=5, budget=7), kind=AccountKind.EVALUATOR, popular=split.train.popularity_ranking())
    evaluator.query(q)
    evaluator.query(q)
    assert evaluator.remaining is None and evaluator.log.records[0].account.kind is AccountKind.EVALUATOR


def test_blackbox_cold_start_serves_popular_list_to_unknown_users():
    split = leave_one_out(tiny_interactions())
    victim = _popular_victim(split)
    pop = split.train.popularity_ranking()
    api = BlackBoxAPI(victim, Serving(k=5, cold_start="popular", exclude_history=True), popular=pop)
    member = int(split.test.users[0])
    lists = api.query(Queries.of([split.test.histories[0], split.test.histories[0]], [member, -1]))
    assert lists[1].tolist() == pop[:5].tolist()  # unknown user: the fallback list, history not consulted
    assert not set(lists[0]) & set(split.test.histories[0].tolist())


def test_conformance_kit_accepts_a_valid_recommender():
    rec = check_recommender(_Popularity)
    assert rec.n_items == 50


def test_peak_memory_sees_an_allocation_inside_the_block_and_not_one_before():
    import torch

    from recsec.memory import peak_memory, rss_peak_mb

    if rss_peak_mb() is None:
        pytest.skip("no /proc/self/status: the resident-set peak is read on Linux only")
    before = np.ones(200 * 2**20 // 8)  # 200 MiB held before the block: counted (still resident)...
    with peak_memory(torch.device("cpu")) as small:
        pass
    del before  # ...but a freed allocation made before a reset is not
    with peak_memory(torch.device("cpu")) as quiet:
        pass
    with peak_memory(torch.device("cpu")) as busy:
        big = np.ones(300 * 2**20 // 8)
        del big
    assert "peak_cuda_mb" not in busy
    assert small["peak_rss_mb"] > quiet["peak_rss_mb"] + 150
    assert busy["peak_rss_mb"] > quiet["peak_rss_mb"] + 250
