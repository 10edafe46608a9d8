"""Registry identity and precedence: a built-in is never displaced, two registrations of one
name are both reported, a forgotten rename is rejected, and a rejected registration does not
abort the rest of its plugin's hook."""

from __future__ import annotations

import json
import types

import pytest

from recsec.attack import Attack
from recsec.errors import SpecError
from recsec.hookspecs import hookimpl
from recsec.registry import Registry, load_registry


def test_a_third_party_taking_a_builtin_name_is_ignored_and_both_are_reported(impostor_dists):
    reg = load_registry()
    itemcf = reg.get("recommender", "itemcf")
    assert itemcf.__module__ == "recsec.plugins.recommenders.itemcf" and itemcf.distribution == "recsec"
    # the built-in recommender plugin loaded completely
    for name in ("lfm", "popular", "sasrec", "narm"):
        assert reg.get("recommender", name).distribution == "recsec"
    (conflict,) = [c for c in reg.conflicts if c.name == "itemcf"]
    assert len(conflict.registrants) == 2 and conflict.kept == conflict.registrants[0]
    assert "recsec:recommenders (recsec " in conflict.registrants[0]
    assert "aaa-impostor:impostor (aaa-impostor 9.9): recsec_impostor_plugin.FakeItemCF" == conflict.registrants[1]


def test_a_subclass_that_keeps_its_parents_name_is_rejected_and_the_hook_goes_on(impostor_dists):
    reg = load_registry()
    rejected = [f.error for f in reg.failures if f.plugin == "aaa-impostor:impostor"]
    assert rejected == ["RegistrationError: add_recommender(FasterItemCF): the class inherits name 'itemcf' "
                        "from ItemCF; set its own 'name'"]
    assert reg.get("recommender", "impostor-own").plugin == "aaa-impostor:impostor"


def test_two_third_parties_with_one_name_are_both_reported_and_neither_is_used(impostor_dists):
    reg = load_registry()
    (conflict,) = [c for c in reg.conflicts if c.name == "toy-data"]
    assert conflict.kept is None
    assert [r.split(":")[0] for r in conflict.registrants] == ["aaa-impostor", "recsec-toy"]
    with pytest.raises(SpecError, match=r"dataset 'toy-data' is registered by aaa-impostor.*recsec-toy.*neither is used"):
        reg.get("dataset", "toy-data")


def test_plugins_command_lists_conflicts_and_rejections(impostor_dists, capsys):
    from recsec.cli import main

    assert main(["plugins"]) == 0
    text = capsys.readouterr().out
    assert "conflicting registrations:" in text and "recommender 'itemcf' is registered by" in text
    assert "set its own 'name'" in text
    assert main(["plugins", "--json"]) == 0
    desc = json.loads(capsys.readouterr().out)
    assert {c["name"] for c in desc["conflicts"]} == {"itemcf", "toy-data"}


def _plugin(*classes):
    mod = types.ModuleType("fake_plugin")

    def recsec_register_attacks(registry):
        for cls in classes:
            registry.add_attack(cls)

    mod.recsec_register_attacks = hookimpl(recsec_register_attacks)
    return mod


def _attack(name: str, base: type = Attack) -> type:
    return type("Fake", (base,), {"name": name, "__doc__": "fake"})


def test_a_builtin_registered_after_a_third_party_still_wins():
    builtin, impostor = _attack("probe"), _attack("probe")
    reg = Registry()
    reg.register_plugin(_plugin(impostor), "aaa:x", "aaa", "1.0")
    reg.register_plugin(_plugin(builtin), "recsec:attacks", "recsec", "0.1.0")
    assert reg.get("attack", "probe") is builtin
    (conflict,) = reg.conflicts
    assert conflict.kept.startswith("recsec:attacks") and conflict.registrants[0].startswith("aaa:x")


def test_identity_names_the_registering_distribution_and_its_version():
    cls = _attack("probe-id")
    first = Registry()
    first.register_plugin(_plugin(cls), "dist-a:p", "dist-a", "1.0")
    ident = cls().identity()
    assert (ident["distribution"], ident["distribution_version"]) == ("dist-a", "1.0")
    Registry().register_plugin(_plugin(cls), "dist-a:p", "dist-a", "2.0")
    assert cls().identity() != ident  # a new release never reuses the old release's results


def test_a_rejected_registration_does_not_abort_the_hook():
    good, nameless = _attack("good"), _attack("")
    reg = Registry()
    reg.register_plugin(_plugin(nameless, good), "p", "p-dist", "1")
    assert reg.get("attack", "good") is good
    assert [f.error for f in reg.failures] == ["RegistrationError: add_attack(Fake): the class has no 'name'"]
