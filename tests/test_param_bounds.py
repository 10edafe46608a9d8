"""Declared ranges are bounds: a value outside them is a spec error, while a search range
(``valid`` given, or ``search_only``) leaves paper settings beyond it legal."""

from __future__ import annotations

import json

import pytest

from recsec.errors import ParameterError, SpecError
from recsec.interval import Interval
from recsec.params import Param
from recsec.registry import load_registry
from recsec.spec import parse_spec


def test_interval_notation_round_trips_and_tests_membership():
    assert str(Interval.parse("[1, inf)")) == "[1, inf)"
    half_open = Interval.parse("(0, 1]")
    assert 1 in half_open and 0.5 in half_open and 0 not in half_open and 1.01 not in half_open
    assert True not in Interval.parse("[0, 1]")  # a bool is not a number here
    assert str(Interval.closed(0.01, 1.0)) == "[0.01, 1]"
    for bad in ("1, 2", "[2, 1]", "[0, inf]", "[a, 1]", "(0; 1)"):
        with pytest.raises(ValueError):
            Interval.parse(bad)


def test_valid_range_is_the_bound_and_low_high_only_the_search_space():
    epochs = Param(30, "epochs", low=2, high=200, log=True, valid="[1, inf)")
    assert epochs.coerce(1000, "x") == 1000 and epochs.coerce(1, "x") == 1
    with pytest.raises(ParameterError, match=r"x: 0 is out of range: must be in \[1, inf\)"):
        epochs.coerce(0, "x")
    d = epochs.describe()
    assert (d["low"], d["high"], d["valid"], d["search_only"]) == (2, 200, "[1, inf)", True)


def test_without_valid_the_declared_space_bounds_unless_search_only():
    ratio = Param(0.1, low=0.01, high=1.0, log=True)
    with pytest.raises(ParameterError, match=r"5\.0 is out of range: must be in \[0\.01, 1\]"):
        ratio.coerce(5.0, "ratio")
    assert ratio.describe()["valid"] == "[0.01, 1]" and "search_only" not in ratio.describe()
    free = Param(1.0, low=0.5, high=2.0, search_only=True)
    assert free.coerce(-7.0, "x") == -7.0 and "valid" not in free.describe()
    heads = Param(2, choices=(1, 2, 4), valid="[1, inf)")
    assert heads.coerce(8, "x") == 8  # choices are the search space only
    with pytest.raises(ParameterError, match="out of range"):
        heads.coerce(0, "x")
    with pytest.raises(ParameterError, match="is not one of"):
        Param("a", choices=("a", "b")).coerce("c", "x")


def test_declarations_contradicting_their_bounds_fail_at_definition():
    with pytest.raises(ParameterError, match=r"default: 5 is out of range"):
        Param(5, "five", valid="[0, 1]")
    with pytest.raises(ParameterError, match="search range"):
        Param(0.5, low=0.0, high=2.0, valid="(0, 1]")
    with pytest.raises(ParameterError, match="choices"):
        Param(1, choices=(0, 1), valid="[1, inf)")
    with pytest.raises(ParameterError, match="interval"):
        Param(1, valid="1..3")


def test_string_values_with_control_characters_are_rejected():
    with pytest.raises(ParameterError, match=r"control character '\\x00'"):
        Param("", type=str).coerce("a\x00b", "x")
    with pytest.raises(ParameterError, match=r"control character '\\n'"):
        Param("").coerce("a\nb", "x")


def test_every_builtin_numeric_parameter_is_bounded_and_searches_inside_its_bounds():
    reg = load_registry()
    assert not reg.failures
    unbounded = []
    for kind, comps in reg.components.items():
        for name, cls in comps.items():
            for pname, p in cls.params.items():
                if p.value_type in (int, float) and p.bounds is None:
                    unbounded.append(f"{kind} {name}.{pname}")
                if p.bounds is not None and p.low is not None:
                    assert p.bounds.covers(p.low, p.high), (name, pname)
    assert not unbounded, unbounded


def _spec(dataset="synthetic", recommender="itemcf", attack="mia-zhang", defense="none"):
    return (f'datasets = ["{dataset}"]\nrecommenders = ["{recommender}"]\n'
            f'attacks = ["{attack}"]\ndefenses = ["{defense}"]\n')


@pytest.mark.parametrize(
    "field, entry, message",
    [
        ("recommenders", "lfm[dim=0]", r"recommenders\[0\]: recommender 'lfm': parameter 'dim': 0 is out of range: must be in \[1, inf\)"),
        ("recommenders", "lfm[lr=-1]", r"recommenders\[0\]: .*parameter 'lr': -1\.0 is out of range: must be in \(0, inf\)"),
        ("attacks", "mia-zhang[mlp_epochs=-1]", r"attacks\[0\]: attack 'mia-zhang': parameter 'mlp_epochs': -1 is out of range"),
        ("defenses", "popularity-randomization[ratio=5.0]", r"defenses\[0\]: .*'ratio': 5\.0 is out of range: must be in \(0, 1\]"),
        ("datasets", "synthetic[n_users=0]", r"datasets\[0\]: dataset 'synthetic': parameter 'n_users'"),
        ("attacks", "mia-zhang[shadow_frac=1.0]", r"attacks\[0\]: .*'shadow_frac': 1\.0 is out of range: must be in \(0, 1\)"),
    ],
)
def test_out_of_range_values_in_a_spec_name_file_field_and_range(field, entry, message):
    kinds = {"datasets": "dataset", "recommenders": "recommender", "attacks": "attack", "defenses": "defense"}
    with pytest.raises(SpecError, match=r"^bad\.toml: " + message):
        parse_spec(_spec(**{kinds[field]: entry}), load_registry(), "bad.toml")


def test_paper_settings_beyond_a_search_range_stay_legal():
    text = _spec(recommender="sasrec[max_epochs=2000,n_heads=8,hidden=128]",
                 attack="dfme-autoregressive[epochs=1000,n_sequences=50000,batch_size=1024]")
    spec = parse_spec(text, load_registry(), "ok.toml")
    assert spec.components["attack"][0].p.epochs == 1000


def test_plugins_json_shows_search_space_and_bounds(capsys):
    from recsec.cli import main

    assert main(["plugins", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    (dfme,) = [c for c in out["components"]["attack"] if c["name"] == "dfme-autoregressive"]
    epochs = dfme["params"]["epochs"]
    assert epochs["low"] == 2 and epochs["high"] == 200 and epochs["valid"] == "[1, inf)" and epochs["search_only"]


def test_a_bound_joining_two_parameters_is_checked_when_the_component_is_built():
    with pytest.raises(SpecError, match=r"datasets\[0\]: dataset 'synthetic': mean_events \(2\.0\) must be at least"):
        parse_spec(_spec(dataset="synthetic[mean_events=2.0]"), load_registry(), "bad.toml")
