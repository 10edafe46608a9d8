"""The black-box API: the only view an attacker has of a victim.

It answers top-k item lists (ids only, no scores), counts every query,
enforces the budget exactly, applies the defense, and keeps a query log that
detectors and the evaluator read afterwards.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .errors import BudgetExhausted
from .queries import Queries

if TYPE_CHECKING:  # pragma: no cover
    from .defense import Defense
    from .recommender import Recommender

#: Account name used by the runner to measure the defended victim's utility;
#: its queries never count against the attacker's budget.
EVALUATOR = "evaluator"


@dataclass
class QueryRecord:
    """One answered query."""

    account: str
    history: np.ndarray
    answer: np.ndarray
    time: float
    flagged: bool = False


@dataclass
class QueryLog:
    """Every query the API answered, in order."""

    records: list[QueryRecord] = field(default_factory=list)
    keep_answers: bool = True

    def by_account(self, account: str) -> list[QueryRecord]:
        return [r for r in self.records if r.account == account]

    def __len__(self) -> int:
        return len(self.records)


class BlackBoxAPI:
    """Top-k access to a (possibly defended) recommender.

    Args:
        victim: the trained recommender.
        k: list length returned (methods.md section 3: 100).
        budget: maximum number of attacker queries (None = unlimited). A batch
            that would exceed it raises ``BudgetExhausted`` before anything is
            answered, so the count is exact.
        defense: applied to every answer (and told about every query).
        cold_start: how users without per-user state are served:
            ``"model"`` (the model scores their history: fold-in) or
            ``"popular"`` (the most-popular list, the usual fallback).
        popular: item ids by popularity in the training data (for ``"popular"``).
        exclude_history: never recommend what the query's history contains.
        log_queries: keep a QueryLog (histories and answers).
    """

    def __init__(
        self,
        victim: "Recommender",
        *,
        k: int = 100,
        budget: int | None = None,
        defense: "Defense | None" = None,
        cold_start: str = "model",
        popular: np.ndarray | None = None,
        exclude_history: bool = True,
        log_queries: bool = True,
        rng: np.random.Generator | None = None,
    ) -> None:
        if cold_start not in ("model", "popular"):
            raise ValueError(f"cold_start must be 'model' or 'popular', not {cold_start!r}")
        if cold_start == "popular" and popular is None:
            raise ValueError("cold_start='popular' needs the popularity ranking")
        self._victim = victim
        self.k = min(int(k), victim.n_items)
        self.budget = budget
        self.defense = defense
        self.cold_start = cold_start
        self._popular = None if popular is None else np.asarray(popular[: self.k], dtype=np.int64)
        self.exclude_history = exclude_history
        self.log = QueryLog()
        self._log_queries = log_queries
        self.queries_used = 0  # attacker (non-evaluator) queries
        self.queries_by_account: dict[str, int] = {}
        self.rng = rng or np.random.default_rng(0)

    @property
    def n_items(self) -> int:
        """Catalogue size: public knowledge (item ids are 0..n_items-1)."""
        return self._victim.n_items

    @property
    def remaining(self) -> int | None:
        return None if self.budget is None else self.budget - self.queries_used

    def query(
        self,
        histories: "Queries | list",
        users: np.ndarray | None = None,
        account: str = "attacker",
    ) -> np.ndarray:
        """Answer a batch of requests: int64 (B, k) item ids, best first.

        Raises ``BudgetExhausted`` if the batch does not fit in the remaining budget.
        """
        q = histories if isinstance(histories, Queries) else Queries.of(histories, users)
        n = len(q)
        counted = account != EVALUATOR
        if counted and self.budget is not None and self.queries_used + n > self.budget:
            raise BudgetExhausted(
                f"query budget of {self.budget} reached: {self.queries_used} used, batch of {n} refused"
            )
        personalised = self._personalised(q)
        if personalised.all():
            answers = self._victim.topk(q, self.k, exclude_history=self.exclude_history)
        else:  # score only the rows the model personalises; the rest get the popular list
            answers = np.empty((n, self.k), dtype=np.int64)
            answers[~personalised] = self._popular
            idx = np.flatnonzero(personalised)
            if len(idx):
                sub = Queries([q.histories[i] for i in idx], q.user_ids()[idx])
                answers[idx] = self._victim.topk(sub, self.k, exclude_history=self.exclude_history)
        flagged = np.zeros(n, dtype=bool)
        if self.defense is not None:
            answers, flagged = self.defense.answer(q, answers, personalised, account, self.rng)
        if counted:
            self.queries_used += n
        self.queries_by_account[account] = self.queries_by_account.get(account, 0) + n
        if self._log_queries:
            now = time.time()
            for i in range(n):
                self.log.records.append(QueryRecord(account, q.histories[i], answers[i], now, bool(flagged[i])))
        return answers

    def _personalised(self, q: Queries) -> np.ndarray:
        if self.cold_start == "model":
            return np.ones(len(q), dtype=bool)
        users = q.user_ids()
        known = np.zeros(len(q), dtype=bool)
        member = users >= 0
        if member.any():
            known[member] = self._victim.knows(users[member])
        return known
