"""Threat models: what an attack declares it knows, and the knowledge the arena grants it.

An attack receives the black box and exactly what its ``ThreatModel`` declares, nothing
else: never the victim's weights, the test targets, the membership labels or the
undefended victim's lists (those stay with the judges). Asking for something the threat
model did not declare raises ``NotGranted`` naming the attack and the declaration to add.

``Serving`` is how the service answers (list length, how it treats users it has no model
of, whether it drops the query's own items, the attacker's query budget): public facts
of the deployment that the attack's protocol fixes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from .errors import RecsecError

if TYPE_CHECKING:  # pragma: no cover
    from .blackbox import BlackBoxAPI
    from .defense import Defense
    from .protocols import MembershipKnowledge
    from .recommender import Recommender

COLD_START = ("model", "popular")
POPULAR_FROM = ("training", "nonmembers")


class NotGranted(RecsecError):
    """An attack asked for knowledge its threat model does not declare."""


@dataclass(frozen=True)
class Serving:
    """How the black box answers an attack's queries.

    Attributes:
        k: list length (None: the spec's ``[benchmark] k``).
        cold_start: users the model holds no state for get a list scored from their history
            (``"model"``, fold-in) or the most popular items (``"popular"``, the usual fallback).
        exclude_history: never return an item of the query's own history (recsec's default;
            the DFME reference code does not exclude them).
        budget: the attacker's query budget (None: unlimited), enforced exactly.
        popular_from: whose events rank the cold-start popular list: the victim's training data
            (``"training"``, recsec), or, in a membership protocol, the target non-members'
            observed events (``"nonmembers"``, Zhang et al.'s released code).
    """

    k: int | None = None
    cold_start: str = "model"
    exclude_history: bool = True
    budget: int | None = None
    popular_from: str = "training"

    def __post_init__(self) -> None:
        if self.cold_start not in COLD_START:
            raise ValueError(f"cold_start must be one of {COLD_START}, not {self.cold_start!r}")
        if self.popular_from not in POPULAR_FROM:
            raise ValueError(f"popular_from must be one of {POPULAR_FROM}, not {self.popular_from!r}")
        if self.k is not None and self.k < 1:
            raise ValueError(f"k must be positive, not {self.k}")
        if self.budget is not None and self.budget < 0:
            raise ValueError(f"budget must be >= 0, not {self.budget}")


@dataclass(frozen=True)
class PollutionTask:
    """A profile-pollution assignment: append ``n_append`` items to ``n_users`` real test users'
    histories to raise each of ``n_targets`` items (chosen by the arena across popularity)."""

    n_targets: int
    n_users: int
    n_append: int


@dataclass(frozen=True)
class ThreatModel:
    """What an attack knows beyond the black box and the catalogue size (always public).

    Attributes:
        algorithm: the victim's algorithm and hyperparameters: ``Knowledge.new_victim()``
            builds an untrained copy (shadow training, a same-architecture surrogate).
        defense: the defense's algorithm and parameters (Kerckhoffs): ``new_defense()``.
        real_fraction: this fraction of the real training users' sequences (few-shot).
        auxiliary: the membership protocol's attacker data: shadow users with their
            membership, the public embedding users, the target users without labels.
        pollution: the profile-pollution assignment (target items and users' histories).
        init_seed: the seed the victim's run drew its first weights under. Never part of a
            sound threat model: it exists to reproduce the DFME / GRO reference code's fault
            (methods.md section 7), which seeds the surrogate with the victim's seed.
    """

    algorithm: bool = False
    defense: bool = False
    real_fraction: float = 0.0
    auxiliary: bool = False
    pollution: PollutionTask | None = None
    init_seed: bool = False

    def __post_init__(self) -> None:
        if not 0.0 <= self.real_fraction <= 1.0:
            raise ValueError(f"real_fraction must lie in [0, 1], not {self.real_fraction}")


@dataclass(frozen=True)
class PollutionTasks:
    """The users and items of a pollution assignment.

    Attributes:
        histories: the chosen test users' histories, one array per user.
        targets: int64 (T,) target items, most popular stratum first.
        n_append: items to append per history.
    """

    histories: list[np.ndarray]
    targets: np.ndarray
    n_append: int

    def eligible(self, target: int) -> np.ndarray:
        """Rows of ``histories`` that do not already hold ``target`` (a served list never repeats
        a history item, so those users could never be shown it)."""
        return np.flatnonzero([int(target) not in set(h.tolist()) for h in self.histories])


@dataclass
class Knowledge:
    """What the arena grants one attack run; each accessor raises ``NotGranted`` when undeclared."""

    attack: str
    n_items: int
    k: int
    threat: ThreatModel
    _new_victim: Callable[[], "Recommender"] | None = None
    _new_defense: Callable[[], "Defense"] | None = None
    _real_sequences: list[np.ndarray] | None = None
    _membership: "MembershipKnowledge | None" = None
    _pollution: PollutionTasks | None = None
    _init_seed: int | None = None
    _mirror: Callable[..., "BlackBoxAPI"] | None = None
    #: Dense ids of the users whose sequences were granted (the judge reports the others apart).
    real_users: np.ndarray | None = field(default=None, repr=False)
    #: How the service answers (public: list length, cold-start, history and popularity rules; no budget).
    serving: Serving | None = None

    def _need(self, what: str, value: Any) -> Any:
        if value is None:
            raise NotGranted(f"attack {self.attack!r} asked for {what} but its threat model does not grant it; "
                             f"declare it in threat_model() (recsec.threat.ThreatModel)")
        return value

    def new_victim(self) -> "Recommender":
        """An untrained recommender of the victim's class and parameters (``algorithm``)."""
        return self._need("the victim's algorithm (algorithm=True)", self._new_victim)()

    def new_defense(self) -> "Defense":
        """An unprepared defense of the deployed class and parameters (``defense``)."""
        return self._need("the defense's algorithm (defense=True)", self._new_defense)()

    def real_sequences(self) -> list[np.ndarray]:
        """The granted real training sequences (``real_fraction``), each in time order."""
        return self._need("real user sequences (real_fraction > 0)", self._real_sequences)

    def membership(self) -> "MembershipKnowledge":
        """The membership protocol's attacker data (``auxiliary``)."""
        return self._need("the membership protocol's auxiliary data (auxiliary=True)", self._membership)

    def pollution(self) -> PollutionTasks:
        """The pollution assignment (``pollution``)."""
        return self._need("a pollution assignment (pollution=PollutionTask(...))", self._pollution)

    def victim_init_seed(self) -> int:
        """The seed the victim's run drew its first weights under (``init_seed``; a reference-code fault)."""
        if not self.threat.init_seed:
            self._need("the victim's init seed (init_seed=True)", None)
        if self._init_seed is None:
            raise NotGranted(f"attack {self.attack!r}: the victim's run has no init seed "
                             "(its weights were loaded or not drawn from a seed)")
        return self._init_seed

    def mirror(self, model: "Recommender", *, defense: "Defense | None" = None,
               popular: np.ndarray | None = None, rng: np.random.Generator | None = None) -> "BlackBoxAPI":
        """A black box over the attacker's OWN model, answering as the victim's service does
        (same list length, cold-start rule and history rule; a ``shadow`` account, no budget)."""
        assert self._mirror is not None
        return self._mirror(model, defense=defense, popular=popular, rng=rng)


@dataclass
class KnowledgeParcel:
    """The knowledge of one attack run as plain data (picklable): what travels to the attacker's
    process (``recsec.isolation``), where ``knowledge()`` builds the ``Knowledge`` it reads.

    Templates are (class, given parameters): the attacker builds fresh, untrained copies.
    """

    attack: str
    n_items: int
    k: int
    threat: ThreatModel
    mirror_serving: Serving
    device: Any = None
    victim_template: tuple[type, dict[str, Any]] | None = None
    defense_template: tuple[type, dict[str, Any]] | None = None
    real_sequences: list[np.ndarray] | None = None
    real_users: np.ndarray | None = None
    membership: "MembershipKnowledge | None" = None
    pollution: PollutionTasks | None = None
    init_seed: int | None = None

    def knowledge(self) -> Knowledge:
        from .blackbox import AccountKind, BlackBoxAPI

        def mirror(model: "Recommender", *, defense=None, popular=None, rng=None) -> "BlackBoxAPI":
            return BlackBoxAPI(model, self.mirror_serving, kind=AccountKind.SHADOW, defense=defense, popular=popular,
                               rng=rng, log_queries=False)

        def build(template: tuple[type, dict[str, Any]] | None, to_device: bool) -> Callable[[], Any] | None:
            if template is None:
                return None
            cls, given = template
            return (lambda: cls(**given).to(self.device)) if to_device else (lambda: cls(**given))

        return Knowledge(attack=self.attack, n_items=self.n_items, k=self.k, threat=self.threat,
                         _new_victim=build(self.victim_template, True), _new_defense=build(self.defense_template, False),
                         _real_sequences=self.real_sequences, _membership=self.membership, _pollution=self.pollution,
                         _init_seed=self.init_seed, _mirror=mirror, real_users=self.real_users,
                         serving=self.mirror_serving)
