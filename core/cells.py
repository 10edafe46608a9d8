"""Cells: one dataset x recommender x attack x defense x seed, with the keys results are cached by."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from .arena import JudgeSettings

if TYPE_CHECKING:  # pragma: no cover
    from .attack import Attack
    from .dataset import DataContext, Dataset
    from .defense import Defense
    from .recommender import Recommender
    from .registry import Registry
    from .spec import Spec


def stable_hash(obj: Any) -> str:
    """sha256 of a canonical JSON rendering (sorted keys, no whitespace)."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass
class Cell:
    """One combination to run; ``config`` is what the result's hash covers."""

    benchmark: str
    dataset: "Dataset"
    recommender: "Recommender"
    attack: "Attack"
    defense: "Defense"
    seed: int
    k: int
    tune: dict[str, Any] | None = None
    judge: "JudgeSettings | None" = None
    #: ``Dataset.fingerprint``: the content of the data (files read, preprocessing, loader
    #: version); set by ``plan`` when given a DataContext, None until then.
    data_fingerprint: str | None = None

    @property
    def config(self) -> dict[str, Any]:
        """Identities (name, version, parameters) of everything that determines the result, the data's content included."""
        return {
            "benchmark": self.benchmark,
            "dataset": self.dataset.identity(),
            "data_fingerprint": self.data_fingerprint,
            "recommender": self.recommender.identity(),
            "attack": self.attack.identity(),
            "defense": self.defense.identity(),
            "seed": self.seed,
            "k": self.k,
            "tune": self.tune,
            "judge": (self.judge or JudgeSettings()).identity(),
        }

    @property
    def config_hash(self) -> str:
        return stable_hash(self.config)

    def _victim_identity(self, recommender: dict[str, Any]) -> str:
        return stable_hash(
            {
                "dataset": self.dataset.identity(),
                "data": self.data_fingerprint,  # a victim is never reused across different data
                "recommender": recommender,
                "split": self.attack.protocol().key,
                "training_defense": self.defense.identity() if self.defense.trains_victim else None,
                "seed": self.seed,
            }
        )

    @property
    def victim_key(self) -> str:
        """Cells with the same victim key share one trained victim.

        The defense enters only when it changes training (``trains_victim``);
        the attack only through its data protocol (``Attack.protocol().key``).
        """
        return self._victim_identity(self.recommender.identity())

    @property
    def training_key(self) -> str:
        """The victim key without the recommender's stopping parameters (``Param(stopping=True)``):
        names the folder of its resumable training state, so raising ``max_epochs`` in a spec
        continues a stored run."""
        ident = self.recommender.identity()
        ident["params"] = {k: v for k, v in ident["params"].items() if not self.recommender.params[k].stopping}
        return self._victim_identity(ident)

    @property
    def attack_key(self) -> str:
        """The cell's key without the attack's stopping parameters: names the attack's folder
        (its resumable state and the journal of the victim's answers), so raising a surrogate's
        epoch or time limit in a spec continues a stored attack."""
        config = self.config
        config["attack"]["params"] = {k: v for k, v in config["attack"]["params"].items()
                                      if not self.attack.params[k].stopping}
        return stable_hash(config)

    @property
    def label(self) -> str:
        return (
            f"{self.dataset.instance_name} / {self.recommender.instance_name} / "
            f"{self.attack.instance_name} / {self.defense.instance_name} / seed {self.seed}"
        )

    def skip_reason(self) -> str | None:
        """The first reason any component gives for not applying to this combination."""
        ctx = {"dataset": self.dataset, "recommender": self.recommender, "attack": self.attack, "defense": self.defense}
        from .errors import RecsecError, raised_in

        for comp in (self.dataset, self.recommender, self.attack, self.defense):
            try:
                reason = comp.skip(**ctx)
            except (KeyboardInterrupt, RecsecError):
                raise
            except BaseException as exc:  # SystemExit too: a plugin never ends the run
                raise raised_in(f"{comp.kind} {comp.name!r}: skip()", exc) from exc
            if reason:
                return reason
        return None


def expand(spec: "Spec") -> Iterator[Cell]:
    """Every cell of the spec, grouped so cells sharing a victim are adjacent."""
    c = spec.components
    tune = spec.tune.identity() if spec.tune else None
    cells = [
        Cell(spec.name, d, r, a, f, s, spec.k, tune, spec.judge)
        for d in c["dataset"]
        for r in c["recommender"]
        for s in spec.seeds
        for a in c["attack"]
        for f in c["defense"]
    ]
    # Stable sort by victim: each victim is trained once and can be dropped after its group.
    order = {}
    for cell in cells:
        order.setdefault(cell.victim_key, len(order))
    yield from sorted(cells, key=lambda cell: order[cell.victim_key])


SELECTABLE = ("dataset", "recommender", "attack", "defense", "seed")


def parse_only(texts: Sequence[str], spec: "Spec", registry: "Registry") -> dict[str, frozenset[str]]:
    """``["defense=gro", "seed=0", "seed=1"]`` -> ``{"defense": {...}, "seed": {"0", "1"}}`` for ``select``.

    A component value is a bare name (every instance of that component in the
    spec) or an instance name, written as in the spec (``gro[lam=0.001]``;
    parameter order and number formatting do not matter). Values of one field
    are alternatives; different fields must all match. A field or a value that
    selects nothing of the spec is an error naming the option.
    """
    from .errors import SpecError

    wanted: dict[str, set[str]] = {}
    for text in texts:
        field, sep, value = (t.strip() for t in text.partition("="))
        if not sep or field not in SELECTABLE or not value:
            raise SpecError(f"--only {text!r}: expected FIELD=VALUE with FIELD one of {', '.join(SELECTABLE)}")
        if field == "seed":
            if value not in {str(s) for s in spec.seeds}:
                raise SpecError(f"--only {text!r}: the spec's seeds are {spec.seeds}")
            wanted.setdefault(field, set()).add(value)
            continue
        spec_names = [c.instance_name for c in spec.components[field]]
        matched = [n for n, c in zip(spec_names, spec.components[field]) if value in (n, c.name)]
        if not matched and "[" in value:
            try:
                canonical = registry.create(field, value).instance_name
            except Exception as exc:  # an unknown component or a bad parameter: say which option
                raise SpecError(f"--only {text!r}: {exc}") from None
            matched = [n for n in spec_names if n == canonical]
        if not matched:
            raise SpecError(f"--only {text!r} matches none of the spec's {field}s: {', '.join(spec_names)}")
        wanted.setdefault(field, set()).update(matched)
    return {k: frozenset(v) for k, v in wanted.items()}


def select(cells: list[Cell], only: dict[str, frozenset[str]] | None) -> list[Cell]:
    """The cells that match every field of ``only`` (from ``parse_only``); all cells when it is empty."""
    if not only:
        return cells

    def value(cell: Cell, field: str) -> str:
        return str(cell.seed) if field == "seed" else getattr(cell, field).instance_name

    return [cell for cell in cells if all(value(cell, f) in vals for f, vals in only.items())]


def plan(
    spec: "Spec",
    only: dict[str, frozenset[str]] | None = None,
    part: tuple[int, int] | None = None,
    data: "DataContext | None" = None,
) -> list[Cell]:
    """The cells one worker runs: the spec's cells, ``select``-ed by ``only``, then shard ``part`` = (I, N).

    Given ``data``, every cell gets its dataset's fingerprint (``fingerprint_cells``) before its
    keys are used; only the datasets of the selected cells are fingerprinted.
    """
    cells = select(list(expand(spec)), only)
    if data is not None:
        fingerprint_cells(cells, data)
    return cells if part is None else shard(cells, *part)


def fingerprint_cells(cells: list[Cell], data: "DataContext", missing_ok: bool = False) -> dict[str, str]:
    """Set ``data_fingerprint`` on ``cells``, computing it once per dataset instance (no data is loaded).

    Returns ``{dataset instance name: error}`` for the datasets whose files are missing when
    ``missing_ok`` (their cells keep None); otherwise a missing file raises DataUnavailableError.
    """
    from .dataset import dataset_error
    from .errors import DataUnavailableError, RecsecError

    known: dict[int, str | None] = {}
    missing: dict[str, str] = {}
    for cell in cells:
        d = cell.dataset
        if id(d) not in known:
            try:
                known[id(d)] = d.fingerprint(data)
            except DataUnavailableError as exc:
                if not missing_ok:
                    raise
                known[id(d)], missing[d.instance_name] = None, str(exc)
            except RecsecError:
                raise
            except Exception as exc:  # noqa: BLE001 - a plugin's fingerprint may raise anything
                raise dataset_error(d, exc) from exc
        cell.data_fingerprint = known[id(d)]
    return missing


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` (1 <= I <= N) -> (I, N); a clear error otherwise."""
    from .errors import SpecError

    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise SpecError(f"--shard: expected I/N such as 2/4, got {text!r}") from None
    if not 1 <= i <= n:
        raise SpecError(f"--shard: I must be between 1 and N, got {text!r}")
    return i, n


def shard(cells: list[Cell], index: int, count: int) -> list[Cell]:
    """The cells of shard ``index`` of ``count`` (1-based): whole victim groups, dealt round-robin.

    Workers started with ``--shard 1/N`` ... ``--shard N/N`` on one database
    split the matrix without overlap, and no victim is trained twice (every
    cell of a victim group lands on the same shard). Groups are formed by
    ``training_key``: victims that differ only in a stopping rule share one
    training folder, so they go to the same worker, never to two at once.
    """
    groups: dict[str, int] = {}
    for cell in cells:
        groups.setdefault(cell.training_key, len(groups))
    return [cell for cell in cells if groups[cell.training_key] % count == index - 1]

