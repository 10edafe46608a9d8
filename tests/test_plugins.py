"""Plugin discovery, registration errors, and the hook documentation contract."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import pytest

from recsec import hookspecs
from recsec.cli import main
from recsec.errors import RegistrationError, SpecError
from recsec.registry import Registry, load_registry


def test_builtin_plugins_load_through_entry_points():
    reg = load_registry()
    assert not reg.failures, reg.failures
    assert {"recsec:datasets", "recsec:recommenders", "recsec:attacks", "recsec:defenses"} <= set(reg.plugins)
    none = reg.get("defense", "none")
    assert none.plugin == "recsec:defenses" and none.plugin_version


@pytest.mark.parametrize("package,kind,listed", [("datasets", "dataset", "DATASETS"),
                                                  ("recommenders", "recommender", "RECOMMENDERS"),
                                                  ("attacks", "attack", "ATTACKS"), ("defenses", "defense", "DEFENSES")])
def test_builtin_lists_name_every_component_of_their_package(package, kind, listed):
    """The built-ins register an explicit list; reflection over the package finds nothing it forgot."""
    import importlib

    from recsec.discovery import components_in_package
    from recsec.registry import KINDS

    module = importlib.import_module(f"recsec.plugins.{package}")
    found = set(components_in_package(module.__name__, KINDS[kind]))
    assert set(getattr(module, listed)) == found
    assert set(load_registry().names(kind)) >= {c.name for c in found}


def test_thirdparty_entry_point_registers_and_broken_plugins_are_reported(thirdparty_dists):
    reg = load_registry()
    probe = reg.get("attack", "toy-probe")
    assert probe.plugin == "recsec-toy:toy" and probe.plugin_version == "0.3"
    assert reg.get("dataset", "toy-data") and reg.get("defense", "toy-reverse")
    failures = {f.plugin: f for f in reg.failures}
    assert "broken on purpose" in failures["recsec-broken:broken"].error
    assert "recsec_no_such_module" in failures["recsec-missing:missing"].error
    assert "Traceback" in failures["recsec-missing:missing"].traceback
    # the built-ins still loaded
    assert reg.get("defense", "none")


def test_plugins_command_lists_components_versions_and_failures(thirdparty_dists, capsys):
    assert main(["plugins", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    attacks = {c["name"]: c for c in out["components"]["attack"]}
    assert attacks["toy-probe"]["version"] == "3"
    assert attacks["toy-probe"]["plugin_version"] == "0.3"
    assert attacks["toy-probe"]["params"]["n_queries"]["default"] == 10
    assert any(f["plugin"] == "recsec-broken:broken" for f in out["failures"])
    assert main(["plugins"]) == 0
    text = capsys.readouterr().out
    assert "toy-probe" in text and "failed plugins:" in text and "broken on purpose" in text


def test_registration_rejects_bad_components():
    from recsec.attack import Attack
    from recsec.defense import Defense

    reg = Registry()

    class Nameless(Attack):
        pass

    class Bad(Attack):
        name = "bad[name]"

    class A1(Attack):
        name = "dup"

    class A2(Attack):
        name = "dup"

    class D(Defense):
        name = "d"

    with pytest.raises(RegistrationError, match="no 'name'"):
        reg.add_attack(Nameless)
    with pytest.raises(RegistrationError, match="contains"):
        reg.add_attack(Bad)
    with pytest.raises(RegistrationError, match="not a subclass"):
        reg.add_attack(D)
    reg.add_attack(A1)
    with pytest.raises(RegistrationError, match="already registered"):
        reg.add_attack(A2)
    with pytest.raises(SpecError, match="unknown attack 'nope'.*dup"):
        reg.get("attack", "nope")


def _hook_names() -> list[str]:
    return [n for n, f in inspect.getmembers(hookspecs, inspect.isfunction) if n.startswith("recsec_")]


@pytest.mark.parametrize("hook", _hook_names())
def test_every_hook_is_documented_typed_and_tested(hook):
    """datasette-style: a hook without a docstring, type hints or a test fails here."""
    fn = getattr(hookspecs, hook)
    doc = inspect.getdoc(fn) or ""
    assert "Called" in doc and "Return" in doc, f"{hook}: docstring must say when it is called and what to return"
    assert fn.__annotations__.get("registry") and "return" in fn.__annotations__, f"{hook}: annotate every argument and the return"
    tests = "".join(p.read_text() for p in Path(__file__).parent.rglob("*.py"))
    uses = len(re.findall(rf"\bdef {hook}\b", tests))
    assert uses >= 1, f"{hook}: no test plugin implements it"
    # and the implementation is exercised: the toy plugin registers one component per hook
    reg = load_registry(extra_plugins=[("hook-probe", _plugin_for(hook))], entry_points=False)
    assert not reg.failures
    assert reg.names(hook.removeprefix("recsec_register_").rstrip("s")) == ["hook-probe-" + hook]


def _plugin_for(hook: str):
    """A one-hook plugin registering a fresh component of the hook's kind."""
    import types

    from recsec.registry import KINDS

    kind = hook.removeprefix("recsec_register_").rstrip("s")
    cls = type("Probe", (KINDS[kind],), {"name": "hook-probe-" + hook, "__doc__": "probe"})
    mod = types.ModuleType("probe")

    def impl(registry):
        getattr(registry, f"add_{kind}")(cls)

    impl.__name__ = hook
    setattr(mod, hook, hookspecs.hookimpl(impl))
    return mod
