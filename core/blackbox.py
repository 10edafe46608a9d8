"""The black-box API: the only view an attacker has of a victim.

It answers top-k item lists (ids only, no scores), counts every query, enforces the
budget exactly, applies the defense, checks every list a recommender or defense
returns (``recsec.validation``) and keeps a query log that the judges read afterwards.
Only the arena builds one (``Arena.serve``); an API serves one kind of account, so an
attacker can name sybil accounts but never pass for the evaluator.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Sequence

import numpy as np

from .errors import BudgetExhausted
from .queries import Queries
from .validation import check_flags, check_lists

if TYPE_CHECKING:  # pragma: no cover
    from .defense import Defense
    from .journal import AnswerJournal
    from .recommender import Recommender
    from .threat import Serving


class AccountKind(str, Enum):
    """Who sends a query: the attacker (budgeted), the arena's evaluator measuring utility
    for the test users, an attacker's simulation of the service (shadow), or a benign user."""

    ATTACKER = "attacker"
    EVALUATOR = "evaluator"
    SHADOW = "shadow"
    BENIGN = "benign"


@dataclass(frozen=True)
class Account:
    """Who sent a query, as the black box's log records it for the judges (never shown to a defense)."""

    kind: AccountKind
    name: str


#: Per process, never derivable from a cell's seed: a defense cannot recompute which id is whose.
_ACCOUNT_SECRET = os.urandom(16)


@dataclass(frozen=True)
class Caller:
    """Who sent a batch, as a defense sees it: an opaque id, the same for every batch of one
    account and unrelated to its kind, so the judge's utility traffic (one account per test
    user, as real users ask) cannot be told from any other account by its name."""

    id: str

    @staticmethod
    def of(account: Account) -> "Caller":
        digest = hashlib.sha256(_ACCOUNT_SECRET + f"{account.kind.value}\0{account.name}".encode()).hexdigest()
        return Caller(f"account-{digest[:16]}")


@dataclass
class QueryRecord:
    """One answered query."""

    account: Account
    history: np.ndarray
    answer: np.ndarray
    time: float
    flagged: bool = False


@dataclass
class QueryLog:
    """Every query the API answered, in order."""

    records: list[QueryRecord] = field(default_factory=list)

    def of_kind(self, kind: AccountKind) -> list[QueryRecord]:
        return [r for r in self.records if r.account.kind is kind]

    def __len__(self) -> int:
        return len(self.records)


def _check_histories(histories: "Sequence", n_items: int) -> None:
    """Every query is item ids of this catalogue: integers in 0..n_items-1 (an item -1, n_items or 2.7
    is the caller's mistake, refused with one line, never passed on to the victim)."""
    for i, h in enumerate(histories):
        arr = np.asarray(h)
        if arr.size and (arr.dtype.kind not in "iu" or arr.ndim != 1):
            raise ValueError(f"query {i}: a history must be a flat array of integer item ids, got {arr.dtype} "
                             f"of shape {arr.shape}")
        if arr.size and (int(arr.min()) < 0 or int(arr.max()) >= n_items):
            bad = int(arr.min()) if int(arr.min()) < 0 else int(arr.max())
            raise ValueError(f"query {i}: item {bad} is outside the catalogue 0..{n_items - 1}")


class BlackBoxAPI:
    """Top-k access to a (possibly defended) recommender, for accounts of one ``kind``.

    Args:
        victim: the trained recommender.
        serving: list length, cold-start and history rules, budget (``recsec.threat.Serving``;
            its ``k`` must be set). The budget counts attacker queries only, and a batch that
            would exceed it raises ``BudgetExhausted`` before anything is answered.
        kind: the kind of every account this API serves.
        defense: applied to every answer (and told about every query).
        popular: item ids by popularity in the training data (for ``cold_start="popular"``).
        rng: the defense's random stream.
        log_queries: keep a QueryLog (histories and answers).
        journal: where the victim's own lists are kept and replayed from (``recsec.journal``):
            an interrupted attack rerun from the start costs no victim forward pass for the
            batches it already sent; budget, defense and log work as without it.
    """

    def __init__(self, victim: "Recommender", serving: "Serving", *, kind: AccountKind = AccountKind.ATTACKER,
                 defense: "Defense | None" = None, popular: np.ndarray | None = None,
                 rng: np.random.Generator | None = None, log_queries: bool = True,
                 journal: "AnswerJournal | None" = None) -> None:
        if serving.k is None:
            raise ValueError("BlackBoxAPI needs serving.k")
        if serving.cold_start == "popular" and popular is None:
            raise ValueError("cold_start='popular' needs the popularity ranking")
        self._victim = victim
        self._defense = defense
        self._serving = serving
        self.kind = kind
        self.k = min(int(serving.k), victim.n_items)
        self.budget = serving.budget if kind is AccountKind.ATTACKER else None
        self.cold_start = serving.cold_start
        self.exclude_history = serving.exclude_history
        self._popular = None if popular is None else np.asarray(popular[: self.k], dtype=np.int64)
        self.log = QueryLog()
        self._log_queries = log_queries
        self.queries_used = 0  # every query this API answered (the budget counts them for the attacker)
        self.queries_by_account: dict[str, int] = {}
        self._rng = rng or np.random.default_rng(0)
        self._journal = journal

    @property
    def serving(self) -> "Serving":
        """How this API answers (public: list length, cold-start and history rules, budget)."""
        return self._serving

    @property
    def n_items(self) -> int:
        """Catalogue size: public knowledge (item ids are 0..n_items-1)."""
        return self._victim.n_items

    @property
    def remaining(self) -> int | None:
        return None if self.budget is None else self.budget - self.queries_used

    def query(self, histories: "Queries | list", users: np.ndarray | None = None,
              account: "str | Sequence[str] | None" = None) -> np.ndarray:
        """Answer a batch of requests: int64 (B, K) item ids, best first (a defense may shorten
        lists: -1 pads them). ``account`` names the account within this API's kind, or one
        account per request (the evaluator asks as each test user); the defense sees each
        account as an opaque ``Caller``, one ``answer`` call per account in the batch.

        Raises ``BudgetExhausted`` if the batch does not fit in the remaining budget.
        """
        _check_histories(histories.histories if isinstance(histories, Queries) else histories, self.n_items)
        q = histories if isinstance(histories, Queries) else Queries.of(histories, users)
        # One private copy: the victim, the defense and the log never share arrays with the caller
        # (an evaluator's queries are the test users' histories; an attacker could rewrite its own).
        q = Queries([np.array(h, dtype=np.int64) for h in q.histories], None if q.users is None else np.array(q.users))
        n = len(q)
        names = [account or self.kind.value] * n if account is None or isinstance(account, str) else list(account)
        if len(names) != n:
            raise ValueError(f"{len(names)} account names for {n} queries")
        if self.budget is not None and self.queries_used + n > self.budget:
            raise BudgetExhausted(f"query budget of {self.budget} reached: {self.queries_used} used, batch of {n} refused")
        personalised = self._personalised(q)
        answers = np.empty((n, self.k), dtype=np.int64)
        if not personalised.all():
            answers[~personalised] = self._popular
        idx = np.flatnonzero(personalised)
        if len(idx):
            sub = q if len(idx) == n else Queries([q.histories[i] for i in idx], q.user_ids()[idx])
            answers[idx] = self._victim_lists(sub)
        flagged = np.zeros(n, dtype=bool)
        if self._defense is not None:
            answers, flagged = self._defended(q, answers, personalised, names)
        self.queries_used += n
        for name in names:
            self.queries_by_account[name] = self.queries_by_account.get(name, 0) + 1
        if self._log_queries:
            now = time.time()
            self.log.records.extend(QueryRecord(Account(self.kind, names[i]), q.histories[i], answers[i], now,
                                                bool(flagged[i])) for i in range(n))
        return answers

    def _defended(self, q: Queries, answers: np.ndarray, personalised: np.ndarray,
                  names: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """The defense's lists and flags, one ``answer`` call per account, in order of first appearance."""
        assert self._defense is not None
        who_d = f"defense {self._defense.name!r}: answer()"
        groups: dict[str, list[int]] = {}
        for i, name in enumerate(names):
            groups.setdefault(name, []).append(i)
        out_lists: list[np.ndarray] = []
        flags = np.zeros(len(q), dtype=bool)
        rows = []
        for name, idx in groups.items():
            sub = q if len(idx) == len(q) else Queries([q.histories[i] for i in idx], q.user_ids()[idx])
            # copies: a defense never writes into the victim's lists or the queries the judges log
            sub = Queries([h.copy() for h in sub.histories], sub.user_ids().copy())
            out, f = self._defense.answer(sub, answers[idx].copy(), personalised[idx].copy(),
                                          Caller.of(Account(self.kind, name)), self._rng)
            flags[idx] = check_flags(f, len(idx), who_d)
            out_lists.append(check_lists(out, sub, self.n_items, who_d, k=self.k, exact=not self._defense.shortens_lists,
                                         exclude_history=self.exclude_history, allowed_history=answers[idx]))
            rows.append(idx)
        width = max(a.shape[1] for a in out_lists)
        merged = np.full((len(q), width), -1, dtype=np.int64)
        for idx, lists in zip(rows, out_lists):
            merged[idx, : lists.shape[1]] = lists
        return merged, flags

    def _victim_lists(self, q: Queries) -> np.ndarray:
        """The victim's own top-k for ``q``: from the journal when this batch was answered before."""
        lists = self._journal.get(q, self.k, self.exclude_history) if self._journal is not None else None
        fresh = lists is None
        if fresh:
            lists = self._victim.topk(q, self.k, exclude_history=self.exclude_history)
        lists = check_lists(lists, q, self.n_items, f"recommender {self._victim.name!r}: topk()",
                            k=self.k, exact=True, exclude_history=self.exclude_history)
        if fresh and self._journal is not None:
            self._journal.put(q, self.k, self.exclude_history, lists)
        return lists

    def _personalised(self, q: Queries) -> np.ndarray:
        if self.cold_start == "model":
            return np.ones(len(q), dtype=bool)
        users = q.user_ids()
        known = np.zeros(len(q), dtype=bool)
        member = users >= 0
        if member.any():
            known[member] = self._victim.knows(users[member])
        return known
