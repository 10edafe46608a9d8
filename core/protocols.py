"""Data protocols: how a dataset is divided between the victim, the attacker and the judge.

A protocol is a small frozen object; its ``key`` is rendered from its own fields, so the
key and the split can never disagree, and victims are cached by it (a plugin cannot be
handed a victim trained under another partition). An attack names the protocol it needs
(``Attack.protocol``); the arena makes the split, keeps the truth (test targets,
membership labels) for the judges and grants the attacker only what its threat model says.

- ``LeaveOneOut``: the sequential protocol of DFME / GRO (methods.md section 1).
- ``Membership``: the user partition of Zhang et al., CCS 2021 (methods.md section 6).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import ClassVar

import numpy as np

from .data import EvalSet, Interactions, Split, leave_one_out
from .params import format_value


class Protocol:
    """Base of the protocols: ``name`` plus dataclass fields make the key."""

    name: ClassVar[str] = ""

    @property
    def key(self) -> str:
        """``name`` or ``name[field=value,...]`` in field order (stable: part of victim keys and seeds)."""
        values = [f"{f.name}={format_value(getattr(self, f.name))}" for f in fields(self)]  # type: ignore[arg-type]
        return f"{self.name}[{','.join(values)}]" if values else self.name

    def split(self, data: Interactions, rng: np.random.Generator) -> Split:
        raise NotImplementedError


@dataclass(frozen=True)
class LeaveOneOut(Protocol):
    """Leave-one-out by time: train all but the last two events, validate on the second to last,
    test on the last (input: train + validation). Deterministic: ``rng`` is unused."""

    name: ClassVar[str] = "loo"

    def split(self, data: Interactions, rng: np.random.Generator) -> Split:
        return leave_one_out(data)


@dataclass(frozen=True)
class MembershipPartition:
    """Who is where in a membership-inference split (dense user ids, sorted): the truth.

    Attributes:
        shadow_members, shadow_nonmembers: the attacker's own users; it trains its shadow
            recommender on the members.
        target_members: the users the victim is trained on; target_nonmembers: target users
            it never saw. Which target is which is what the attack must infer.
        embedding: users whose interactions are public and give the item vectors.
        observed: what an attacker may know of these users' interactions: all events of the
            embedding users and all but the last (by time) event of every shadow and target
            user. The victim trains on ``observed`` restricted to ``target_members``.
    """

    shadow_members: np.ndarray
    shadow_nonmembers: np.ndarray
    target_members: np.ndarray
    target_nonmembers: np.ndarray
    embedding: np.ndarray
    observed: Interactions

    @property
    def targets(self) -> np.ndarray:
        """Every target user, members first (the judge's order; never handed to an attack as is)."""
        return np.concatenate([self.target_members, self.target_nonmembers])

    def is_member(self, users: np.ndarray) -> np.ndarray:
        """Bool per user: a member of the victim's training set."""
        return np.isin(users, self.target_members)

    def sizes(self) -> dict[str, int]:
        return {k: len(getattr(self, k)) for k in ("shadow_members", "shadow_nonmembers", "target_members",
                                                     "target_nonmembers", "embedding")}


@dataclass(frozen=True)
class MembershipKnowledge:
    """What a membership-inference attacker knows (``ThreatModel(auxiliary=True)``): its own shadow
    users with their membership, the public embedding users, every observed event, and the target
    users in a shuffled order without labels."""

    shadow_members: np.ndarray
    shadow_nonmembers: np.ndarray
    embedding: np.ndarray
    targets: np.ndarray
    observed: Interactions
    _seqs: list[np.ndarray] = field(default_factory=list, repr=False, compare=False)

    def histories(self, users: np.ndarray) -> list[np.ndarray]:
        """Each user's observed items in time order."""
        if not self._seqs:
            self._seqs.extend(self.observed.sequences())
        return [self._seqs[u] for u in users]

    def interactions_of(self, users: np.ndarray) -> Interactions:
        """The observed events of ``users`` (id spaces kept)."""
        return self.observed.subset(np.isin(self.observed.users, users))


def empty_evalset() -> EvalSet:
    """An EvalSet with no users."""
    return EvalSet(np.zeros(0, dtype=np.int64), [], np.zeros(0, dtype=np.int64))


@dataclass(frozen=True)
class Membership(Protocol):
    """Zhang et al., "Membership Inference Attacks Against Recommender Systems", CCS 2021.

    Users with at least ``min_interactions`` (and at least 2) events are shuffled and cut into
    shadow (``shadow_frac``), target (``target_frac``) and embedding (the rest) sets; the first
    ``round(member_frac * size)`` of the shuffled shadow and target users are members.
    ``Split.train`` is the target members' events minus each one's last event; ``Split.test``
    has that last event as the one target per member (input: the training events);
    ``Split.valid`` is empty. The partition is ``Split.extra["membership"]``.
    The name ``mia-zhang-v1`` keeps the key (and so the split's seed) of recsec's first version.
    """

    name: ClassVar[str] = "mia-zhang-v1"
    min_interactions: int = 20
    shadow_frac: float = 1 / 3
    target_frac: float = 1 / 3
    member_frac: float = 0.5

    def split(self, data: Interactions, rng: np.random.Generator) -> Split:
        if not (0 < self.shadow_frac and 0 < self.target_frac and self.shadow_frac + self.target_frac < 1):
            raise ValueError("shadow_frac and target_frac must be positive and leave users for the embedding set")
        counts = np.bincount(data.users, minlength=data.n_users)
        eligible = np.flatnonzero(counts >= max(self.min_interactions, 2))  # a held-out event and a history
        perm = rng.permutation(eligible)
        n = len(perm)
        n_sh, n_tg = int(round(n * self.shadow_frac)), int(round(n * self.target_frac))
        shadow, target, embedding = perm[:n_sh], perm[n_sh : n_sh + n_tg], perm[n_sh + n_tg :]
        m_sh, m_tg = int(round(len(shadow) * self.member_frac)), int(round(len(target) * self.member_frac))
        parts = {"shadow_members": shadow[:m_sh], "shadow_nonmembers": shadow[m_sh:],
                 "target_members": target[:m_tg], "target_nonmembers": target[m_tg:], "embedding": embedding}
        empty = [k for k, v in parts.items() if len(v) == 0]
        if empty:
            raise ValueError(f"membership split: {', '.join(empty)} empty "
                             f"({n} users have >= {self.min_interactions} interactions)")
        parts = {k: np.sort(v).astype(np.int64) for k, v in parts.items()}

        # The last event (by time, ties by item) of every shadow and target user is held out.
        order = data.order()
        bounds = np.searchsorted(data.users[order], np.arange(data.n_users + 1))
        queried = np.concatenate([shadow, target]).astype(np.int64)
        held_out = np.zeros(len(data), dtype=bool)
        held_out[order[bounds[queried + 1] - 1]] = True
        in_parts = np.zeros(data.n_users, dtype=bool)
        in_parts[eligible] = True
        observed = data.subset(in_parts[data.users] & ~held_out)

        members = parts["target_members"]
        is_member = np.zeros(data.n_users, dtype=bool)
        is_member[members] = True
        train = observed.subset(is_member[observed.users])
        seqs = train.sequences()
        targets = data.items[order[bounds[members + 1] - 1]]
        test = EvalSet(members, [seqs[u] for u in members], targets.astype(np.int64))
        partition = MembershipPartition(observed=observed, **parts)
        return Split(train=train, valid=empty_evalset(), test=test, key=self.key, extra={"membership": partition})


def knowledge_of(partition: MembershipPartition, order: np.random.Generator) -> MembershipKnowledge:
    """The attacker's view of ``partition``: the targets shuffled by ``order``, no labels."""
    targets = partition.targets[order.permutation(len(partition.targets))]
    return MembershipKnowledge(partition.shadow_members, partition.shadow_nonmembers, partition.embedding,
                               targets, partition.observed)
