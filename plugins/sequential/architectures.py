"""Sequential architectures named by a parameter (a surrogate, a sampler), resolved through the plugin registry.

An attack that trains a sequential model of its own takes the model by name:
any registered ``SequentialRecommender``, built-in or a third party's, as a
plain name (``sasrec``) or an instance name with parameters
(``sasrec[hidden=32]``). ``ArchitectureParam`` declares such a parameter: a
wrong value fails when the component is built, with a one-line message that
names the component and the parameter; ``create_sequential`` builds the model
when it is needed.

Importing this module does not import torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from recsec.errors import ParameterError, RecsecError
from recsec.params import Param, parse_instance_name
from recsec.registry import default_registry

from .base import SequentialRecommender


def sequential_names() -> list[str]:
    """The registered sequential recommenders, in registration order (the built-ins first)."""
    found = default_registry().components["recommender"]
    return [name for name, cls in found.items() if issubclass(cls, SequentialRecommender)]


def create_sequential(text: str, where: str, **params: Any) -> SequentialRecommender:
    """A new, untrained instance of the registered sequential recommender ``text``.

    Args:
        text: ``name`` or ``name[k=v,...]``; ``params`` override the inline values.
        where: what the value belongs to, e.g. ``"attack 'dfme-random': parameter 'surrogate'"``;
            every error is one line that starts with it.
    """
    registered = default_registry().components["recommender"]
    try:
        name, _ = parse_instance_name(text)
    except ParameterError as exc:
        raise ParameterError(f"{where}: {exc}") from None
    known = ", ".join(sequential_names()) or "none"
    cls = registered.get(name)
    if cls is None:
        raise ParameterError(f"{where}: unknown recommender {name!r} (registered sequential recommenders: {known})")
    if not issubclass(cls, SequentialRecommender):
        raise ParameterError(f"{where}: {name!r} is a {cls.family!r} recommender, not a sequential one "
                             f"(registered sequential recommenders: {known})")
    try:
        return default_registry().create("recommender", text, **params)  # type: ignore[return-value]
    except RecsecError as exc:  # an unknown or ill-typed inline parameter
        raise ParameterError(f"{where}: {exc}") from None


class SequentialNames(Sequence[str]):
    """``fixed`` values, then every registered sequential recommender's name, read from the registry
    each time (plugins register after the parameters that name them are declared).

    The choices of an ``ArchitectureParam``: its search space in a study and its list in ``recsec plugins``.
    """

    def __init__(self, fixed: tuple[str, ...]) -> None:
        self.fixed = fixed

    def _names(self) -> list[str]:
        return [*self.fixed, *(n for n in sequential_names() if n not in self.fixed)]

    def __getitem__(self, i: Any) -> Any:  # an index or a slice, as on a list
        return self._names()[i]

    def __len__(self) -> int:
        return len(self._names())

    def __repr__(self) -> str:
        return f"SequentialNames({self._names()!r})"


@dataclass(frozen=True)
class ArchitectureParam(Param):
    """A string parameter naming a sequential architecture: one of ``fixed`` (such as ``"same"``), or a
    registered sequential recommender's name or instance name, checked with ``create_sequential``."""

    fixed: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "choices", SequentialNames(self.fixed))

    def coerce(self, value: Any, where: str) -> Any:
        if not isinstance(value, str):
            raise ParameterError(f"{where}: expected a recommender name, got {value!r}")
        if value not in self.fixed:
            create_sequential(value, where)
        return value
