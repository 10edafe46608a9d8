"""Judged cells: attacks get only what their threat model grants, the core scores their
outputs, and every broken value that crosses the plugin boundary fails its cell (never
``done``) with a one-line message, leaving the other cells as they were."""

from __future__ import annotations

import numpy as np
import pytest

from recsec.runner import RunOptions, Runner
from recsec.spec import parse_spec
from recsec.storage import repository as repo

SPEC = """
datasets = ["toy-data"]
recommenders = ["{recommender}"]
attacks = ["{attack}"]
defenses = ["{defense}"]

[benchmark]
name = "breakage"
k = 10
seeds = [0]
"""


@pytest.fixture
def breakage_registry(monkeypatch, toy_registry):
    from conftest import THIRDPARTY

    monkeypatch.syspath_prepend(str(THIRDPARTY))
    import recsec_breakage_plugin

    toy_registry.register_plugin(recsec_breakage_plugin, "recsec-breakage")
    return toy_registry


def _run(registry, storage, tmp_path, force=False, recommender="toy-popular", attack="breaker", defense="none"):
    text = SPEC.format(recommender=recommender, attack=attack, defense=defense)
    spec = parse_spec(text, registry, "breakage.toml")
    logs: list[str] = []
    opts = RunOptions(device="cpu", artifacts_dir=tmp_path / "artifacts", log=logs.append, force=force)
    summary = Runner(spec, storage, opts).run()
    with storage.transaction() as s:
        cells = {c.attack + "/" + c.defense + "/" + c.recommender: c for c in repo.list_cells(s)}
    return summary, cells, logs


def _snapshot(storage):
    with storage.transaction() as s:
        return {c.config_hash: (c.status, dict(c.metrics), c.error) for c in repo.list_cells(s)}


BREAKAGES = [
    ("attack", "none", "must return a Surrogate"),
    ("attack", "dict", "must return a Surrogate"),
    ("attack", "wrong-output", "must return a Surrogate"),
    ("attack", "nan-diagnostic", "'value' is nan"),
    ("attack", "bool-diagnostic", "'value' must be a real number, got bool"),
    ("attack", "string-diagnostic", "'value' must be a real number, got str"),
    ("attack", "array-diagnostic", "'value' must be a real number, got ndarray"),
    ("attack", "no-model", "Surrogate.model must be a trained Recommender"),
    ("attack", "wrong-catalogue", "Surrogate.model must be a trained Recommender"),
    ("attack", "fake-holdout", "claims an answer the black box never gave"),
    ("attack", "exit", "attack 'breaker': run(): SystemExit: 1"),
    ("attack", "skip-raises", "attack 'breaker': skip(): RuntimeError: skip exploded"),
    ("attack", "skip-exits", "attack 'breaker': skip(): SystemExit: 3"),
    ("attack", "peek-algorithm", "asked for the victim's algorithm"),
    ("attack", "peek-real", "asked for real user sequences"),
    ("attack", "peek-membership", "asked for the membership protocol's auxiliary data"),
    ("attack", "peek-init-seed", "asked for the victim's init seed"),
    ("defense", "past-catalogue", "defense 'bad-defense': answer(): the lists holds ids outside 0..49"),
    ("defense", "minus-one", "defense 'bad-defense': answer(): -1 in a top-"),
    ("defense", "float-ids", "the lists must hold integer ids, got dtype float64"),
    ("defense", "duplicates", "a list repeats an item"),
    ("defense", "history", "recommends an item of the query's own history"),
    ("defense", "short", "lists of 3 items, expected exactly"),
    ("defense", "flags", "expected a bool array of shape"),
    ("defense", "middle-pad", "-1 in a top-"),
    ("recommender", "nan-recommender", "recommender 'nan-recommender': score() returned NaN"),
]


@pytest.mark.parametrize("where,mode,says", BREAKAGES, ids=[f"{w}-{m}" for w, m, _ in BREAKAGES])
def test_every_breakage_fails_its_cell_with_one_line_and_leaves_the_rest(breakage_registry, storage, tmp_path,
                                                                         where, mode, says):
    done, _, _ = _run(breakage_registry, storage, tmp_path, attack="breaker[mode=ok]")
    assert done.counts["done"] == 1
    before = _snapshot(storage)
    kw = {"attack": f"breaker[mode={mode}]"} if where == "attack" else (
        {"defense": f"bad-defense[mode={mode}]"} if where == "defense" else {"recommender": mode})
    summary, cells, logs = _run(breakage_registry, storage, tmp_path, **kw)
    assert summary.counts["failed"] == 1 and summary.counts["done"] == 0
    (failed,) = [c for c in cells.values() if c.config_hash not in before]
    assert failed.status == "failed" and failed.metrics == {}
    assert "\n" not in failed.error and says in failed.error, failed.error
    assert "Traceback" in failed.traceback
    assert sum(line.startswith("FAILED") for line in logs) == 1
    after = _snapshot(storage)
    assert {k: after[k] for k in before} == before  # what was stored is untouched


def test_a_numpy_float32_diagnostic_is_a_legitimate_number(breakage_registry, storage, tmp_path):
    summary, cells, _ = _run(breakage_registry, storage, tmp_path, attack="breaker[mode=float32-diagnostic]")
    (cell,) = cells.values()
    assert summary.counts["done"] == 1 and cell.diagnostics == {"diag.value": 0.5}
    assert not any(k.startswith("diag.") for k in cell.metrics)  # diagnostics are stored apart


def test_force_keeps_the_result_when_the_recompute_fails(breakage_registry, storage, tmp_path, monkeypatch):
    import recsec_breakage_plugin as plugin

    summary, cells, _ = _run(breakage_registry, storage, tmp_path)
    (cell,) = cells.values()
    kept = dict(cell.metrics)
    monkeypatch.setattr(plugin.Breaker, "run", lambda self, api, ctx: 1 / 0)
    monkeypatch.setenv("RECSEC_ISOLATE", "0")  # the patched run() lives in this process, not a fresh attacker's
    summary, cells, logs = _run(breakage_registry, storage, tmp_path, force=True)
    (cell,) = cells.values()
    assert summary.counts["failed"] == 1
    assert cell.status == "done" and cell.metrics == kept
    assert "ZeroDivisionError" in cell.last_failure["error"] and "Traceback" in cell.last_failure["traceback"]
    assert "the stored result is kept" in logs[-1]
    assert cell.computations == 2
    with storage.transaction() as s:
        events = [e.event for e in s.scalars(__import__("sqlalchemy").select(repo.CellEvent))]
    assert events == ["claimed", "done", "claimed", "failed"]


def test_the_attack_context_holds_no_answer_key(breakage_registry, tmp_path):
    """What an attack can reach: the black box and its granted knowledge; no split, no labels."""
    from recsec.arena import Arena
    from recsec.testing import tiny_interactions
    from recsec.testing.checks import _Popularity

    seen = {}
    import recsec_breakage_plugin as plugin

    class Spy(plugin.Breaker):
        name = "spy"

        def run(self, api, ctx):
            seen["ctx"] = sorted(vars(ctx))
            seen["api"] = sorted(k for k in vars(api) if not k.startswith("_"))
            return super().run(api, ctx)

    arena = Arena.for_testing(recommender=_Popularity(), data=tiny_interactions(), k=10)
    verdict = arena.attack(Spy())
    assert seen["ctx"] == ["device", "knowledge", "log", "progress", "seed", "work_dir"]
    assert not {"split", "reference_topk", "victim_factory", "defense", "victim"} & set(seen["ctx"] + seen["api"])
    assert 0 <= verdict.metrics["attack.agr@10"] <= 1 and verdict.metrics["attack.queries"] == 5


def test_membership_knowledge_hides_the_labels():
    from recsec.protocols import Membership, knowledge_of
    from recsec.testing import tiny_interactions

    split = Membership(min_interactions=5).split(tiny_interactions(n_users=160), np.random.default_rng(0))
    part = split.extra["membership"]
    know = knowledge_of(part, np.random.default_rng(1))
    assert set(know.targets) == set(part.targets) and not np.array_equal(know.targets, part.targets)
    assert not hasattr(know, "target_members") and not hasattr(know, "is_member")
    # the victim trains on the target members only; the attacker sees every target's observed history
    assert set(np.unique(split.train.users)) == set(part.target_members)


def test_tuning_a_test_metric_needs_an_explicit_switch(breakage_registry):
    from recsec.errors import SpecError

    base = SPEC.format(recommender="toy-popular", attack="toy-probe", defense="none")
    with pytest.raises(SpecError, match="tune.metric 'attack.agr@10' is measured on data the attacker never sees"):
        parse_spec(base + '\n[tune]\nmetric = "attack.agr@10"\n', breakage_registry, "t.toml")
    spec = parse_spec(base + '\n[tune]\nmetric = "attack.agr@10"\nallow_test_metric = true\n', breakage_registry, "t.toml")
    assert spec.tune.identity()["allow_test_metric"] is True
    assert parse_spec(base + "\n[tune]\n", breakage_registry, "t.toml").tune.allow_test_metric is False


def test_an_adaptive_attacker_gets_a_fresh_copy_of_the_deployed_defense(toy_registry):
    """Kerckhoffs: the deployed defense's class and parameters, never its prepared state."""
    from recsec.arena import Arena
    from recsec.attack import Attack
    from recsec.outputs import Surrogate
    from recsec.testing import tiny_interactions
    from recsec.testing.checks import _Popularity
    from recsec.threat import ThreatModel

    got = {}

    class Adaptive(Attack):
        """Records the defense it is granted."""

        name = "adaptive-probe"
        output = Surrogate

        def threat_model(self):
            return ThreatModel(defense=True)

        def run(self, api, ctx):
            got["defense"] = ctx.knowledge.new_defense()
            model = _Popularity()
            model.n_items, model.counts = ctx.knowledge.n_items, np.zeros(ctx.knowledge.n_items, np.float32)
            return Surrogate(model=model)

    arena = Arena.for_testing(recommender=_Popularity(), data=tiny_interactions(), k=10)
    deployed = arena.prepare(toy_registry.create("defense", "popularity-randomization[ratio=0.5]"))
    arena.attack(Adaptive(), deployed)
    assert type(got["defense"]).__name__ == "PopularityRandomization" and got["defense"].p.ratio == 0.5
    assert got["defense"]._ranking is None  # unprepared: the attacker prepares it on its own data
