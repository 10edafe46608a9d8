"""Spec parsing: good specs expand into cells; bad ones fail with messages naming the problem."""

from __future__ import annotations

import pytest

from recsec.cells import expand
from recsec.errors import SpecError
from recsec.spec import load_spec, parse_spec

GOOD = """
datasets = ["toy-data[n_users=60]"]
recommenders = ["toy-popular"]
defenses = ["none", "toy-reverse"]

[benchmark]
name = "toy"
seeds = [0, 1]

[[attacks]]
name = "toy-probe"
params = { n_queries = [5, 10] }
"""


def test_good_spec_expands_grid_and_groups_by_victim(toy_registry):
    spec = parse_spec(GOOD, toy_registry, "good.toml")
    assert spec.name == "toy" and spec.seeds == [0, 1]
    assert [a.instance_name for a in spec.components["attack"]] == ["toy-probe[n_queries=5]", "toy-probe[n_queries=10]"]
    cells = list(expand(spec))
    assert len(cells) == 1 * 1 * 2 * 2 * 2
    assert len({c.config_hash for c in cells}) == len(cells)
    # cells of one victim are adjacent, and defenses that do not train share the victim
    keys = [c.victim_key for c in cells]
    assert len(set(keys)) == 2 and keys == sorted(keys, key=keys.index)


def test_config_hash_includes_component_version(toy_registry):
    spec = parse_spec(GOOD, toy_registry)
    cell = next(expand(spec))
    before = cell.config_hash
    old = type(cell.attack).version
    type(cell.attack).version = old + ".1"
    try:
        assert cell.config_hash != before
    finally:
        type(cell.attack).version = old


@pytest.mark.parametrize(
    "text, message",
    [
        ("[benchmark\nname='x'", r"bad\.toml: malformed TOML: .*line 1"),
        (GOOD.replace("toy-popular", "toy-popularr"), r"recommenders\[0\]: unknown recommender 'toy-popularr'.*toy-popular"),
        (GOOD.replace("n_queries = [5, 10]", "n_querys = 5"), r"attacks\[0\]: .*unknown parameter 'n_querys'.*n_queries"),
        (GOOD.replace("n_queries = [5, 10]", "n_queries = 'many'"), r"attacks\[0\]: .*'n_queries': expected an integer, got 'many'"),
        (GOOD.replace("toy-data[n_users=60]", "toy-data[n_users=6"), r"datasets\[0\]: .*expected name\[key=value"),
        (GOOD + "\n[tune]\nn_trials = 0\n", r"tune\.n_trials: must be an integer from 1 to 2147483647, got 0"),
        (GOOD + "\n[tune]\nparams = ['fail']\n", r"tune\.params: toy-probe: 'fail' declares no search space"),
        (GOOD.replace("seeds = [0, 1]", "seeds = 'zero'"), r"benchmark\.seeds: must be a non-empty list of integers"),
        ("extra = 1\n" + GOOD, r"top level: unknown key\(s\) 'extra'"),
        ("[benchmark]\nname = 'x'\ndatasets = ['toy-data']\n", r"benchmark: 'datasets' .*above the \[benchmark\] table"),
        (GOOD.replace('recommenders = ["toy-popular"]', ""), r"recommenders: missing"),
        (GOOD.replace('defenses = ["none", "toy-reverse"]', 'defenses = ["none", "none"]'), r"defenses: 'none' appears twice"),
    ],
)
def test_bad_specs_name_the_problem(toy_registry, text, message):
    with pytest.raises(SpecError, match=message):
        parse_spec(text, toy_registry, "bad.toml")


def test_missing_file_is_named(toy_registry, tmp_path):
    with pytest.raises(SpecError, match=r"nope\.toml: cannot read spec"):
        load_spec(tmp_path / "nope.toml", toy_registry)


def test_cli_reports_spec_errors_without_traceback(toy_registry, tmp_path, capsys, monkeypatch):
    import recsec.registry
    from recsec.cli import main

    monkeypatch.setattr(recsec.registry, "_DEFAULT", toy_registry)
    bad = tmp_path / "bad.toml"
    bad.write_text(GOOD.replace("toy-popular", "toy-popularr"))
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.toml: recommenders[0]: unknown recommender 'toy-popularr'" in err and "Traceback" not in err
    good = tmp_path / "good.toml"
    good.write_text(GOOD)
    assert main(["validate", str(good)]) == 0
    assert "8 cells" in capsys.readouterr().out
