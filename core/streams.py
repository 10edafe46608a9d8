"""Every random stream of a cell, derived from the cell's seed: the one table that names them.

A stream is a path of label groups: the seed of ``("attack",), ("extraction", "eval-users")``
is ``derive_seed(derive_seed(seed, "attack"), "extraction", "eval-users")``. Nothing in recsec
derives a cell's seeds any other way, so two streams never share draws and adding one never
shifts another. Some paths keep the labels of the code that drew them before the judged-cells
redesign (the eval-user subset was drawn inside the extraction attack, the target order inside
``mia-zhang``), so results of unchanged protocols are the same numbers as before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .seeding import derive_seed

#: name -> (label path, who draws from it). Extra labels given to ``Streams.seed`` extend the last group.
TABLE: dict[str, tuple[tuple[tuple[str, ...], ...], str]] = {
    "global": ((("global",),), "Python, NumPy and torch global generators, reseeded at the start of a cell"),
    "victim": ((("victim",),), "the victim's training and the defense's preparation (their RunContext)"),
    "split": ((("split",),), "the protocol's partition of users and events (extended by the protocol's key)"),
    "attack": ((("attack",),), "everything the attack draws (its AttackContext)"),
    "api": ((("api",),), "the defense's randomness on the attacker's answers"),
    "evaluator": ((("evaluator",),), "the defense's randomness on the lists served to test users (defended.*)"),
    "test-negatives": ((("test-negatives",),), "the 100 sampled negatives of utility.sampled_*"),
    "eval-users": ((("attack",), ("extraction", "eval-users")), "the judge's subset of test users ([judge] eval_users)"),
    "target-order": ((("attack",), ("mia-zhang", "query-order")), "the order the membership targets are handed over in"),
    "real-users": ((("attack",), ("fewshot", "users")), "which real users' sequences a few-shot attacker holds"),
    "pollution-users": ((("attack",), ("pollution", "users")), "the test users a pollution attack is asked to pollute"),
    "pollution-targets": ((("attack",), ("pollution", "targets")), "the target items of a pollution attack"),
    "pollution-baseline": ((("attack",), ("pollution", "random-baseline")), "random appended items (pollution baseline)"),
    "benign": ((("judge",), ("benign",)), "the held-out users whose sessions are benign traffic for detectors"),
}


@dataclass(frozen=True)
class Streams:
    """The streams of one cell (``seed``: the cell's seed)."""

    seed: int

    def seed_of(self, name: str, *labels: object) -> int:
        """The seed of stream ``name`` (``TABLE``), ``labels`` appended to its last label group."""
        try:
            path, _ = TABLE[name]
        except KeyError:
            raise KeyError(f"unknown random stream {name!r}; the streams of a cell are {', '.join(TABLE)}") from None
        value = int(self.seed)
        for i, group in enumerate(path):
            value = derive_seed(value, *group, *(labels if i == len(path) - 1 else ()))
        return value

    def rng(self, name: str, *labels: object) -> np.random.Generator:
        """A NumPy generator on stream ``name``."""
        return np.random.default_rng(self.seed_of(name, *labels))
