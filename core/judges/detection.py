"""The detection judge: a query detector against benign traffic (methods.md section 5).

Positives are the attacker's queries from the black box's log; negatives are benign
sessions: each held-out test user queries the prefixes of their real history, in order
(the last ``[judge] benign_queries``), the way a service re-ranks after each interaction.
The benign users are held out of the split the detector was prepared on.

Accounts are formed from whole query sequences on both sides, so a detector that looks
at an account's series sees what it would see in service: the attacker's log is cut
into its query sequences (each query extends an earlier one by one item: DFME's
prefixes, a few-shot attacker's real sequences), and sequences, and benign sessions,
are packed in order into accounts of about ``[judge] account_size`` queries (0: one
account per logged account name, one per benign user).

Metrics (``defense.*``): AUROC, AUPR (with its chance level: the attacker's share) and
FPR at 95% TPR per query and per account; the share of the attacker's queries flagged
online and of attacker accounts / benign users / benign queries the rule flags on replay.

Shapes: Q queries, A accounts.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

import numpy as np

from ..blackbox import AccountKind
from ..metrics import average_precision, fpr_at_tpr, roc_auc
from ..validation import check_number, check_flags

if TYPE_CHECKING:  # pragma: no cover
    from ..arena import Arena
    from ..blackbox import QueryLog
    from ..detection import QueryDetector, StreamScores


def query_sequences(histories: list[np.ndarray]) -> list[list[int]]:
    """Indices of ``histories`` grouped into sequences: a query whose history minus its last item
    is the latest query of an open sequence extends it; any other query starts a new one.

    Several open sequences can end in the same query (DFME's sequences that drew the same first
    items, answered in one batch): each keeps its place in a first-in, first-out queue, so the
    next batch's extensions go to them in the order they were sent and none is cut in two."""
    open_ends: dict[bytes, deque[int]] = {}  # the last query of each open sequence -> those sequences
    seqs: list[list[int]] = []
    for i, h in enumerate(histories):
        h = np.asarray(h, dtype=np.int64)
        waiting = open_ends.get(h[:-1].tobytes()) if len(h) > 1 else None
        if waiting:
            sid = waiting.popleft()
        else:
            sid = len(seqs)
            seqs.append([])
        seqs[sid].append(i)
        open_ends.setdefault(h.tobytes(), deque()).append(sid)
    return seqs


def pack(groups: list[list[int]], size: int) -> list[list[int]]:
    """Consecutive whole groups joined into accounts of at least ``size`` items (the last may be smaller)."""
    accounts: list[list[int]] = []
    current: list[int] = []
    for g in groups:
        current.extend(g)
        if len(current) >= size:
            accounts.append(current)
            current = []
    if current:
        accounts.append(current)
    return accounts


def prefix_session(history: np.ndarray, last: int) -> list[np.ndarray]:
    """Every prefix h[:1], ..., h[:L] of one user's history (the last ``last`` if > 0)."""
    h = np.asarray(history, dtype=np.int64)
    start = 1 if last <= 0 else max(1, len(h) - last + 1)
    return [h[:t] for t in range(start, len(h) + 1)]


def _curve_metrics(pos: np.ndarray, neg: np.ndarray, suffix: str) -> dict[str, float]:
    if len(pos) == 0 or len(neg) == 0:
        return {}
    labels = np.r_[np.ones(len(pos), bool), np.zeros(len(neg), bool)]
    scores = np.r_[pos, neg]
    return {f"defense.auroc_{suffix}": roc_auc(labels, scores), f"defense.aupr_{suffix}": average_precision(labels, scores),
            f"defense.aupr_{suffix}_chance": float(len(pos) / len(labels)), f"defense.fpr95_{suffix}": fpr_at_tpr(labels, scores, 0.95)}


def _scored(detector: "QueryDetector", stream: list[np.ndarray]) -> "StreamScores":
    who = f"defense {detector.name!r}: score_stream()"
    out = detector.score_stream(stream)
    q = np.asarray(out.queries, dtype=np.float64)
    if q.shape != (len(stream),) or not np.isfinite(q).all():
        from ..errors import PluginOutputError

        raise PluginOutputError(f"{who}: queries must be {len(stream)} finite scores, got shape {q.shape}")
    out.queries, out.flags = q, check_flags(out.flags, len(stream), who)
    out.account = check_number(out.account, who, "account")
    return out


def judge_detection(arena: "Arena", detector: "QueryDetector", log: "QueryLog") -> dict[str, float]:
    records = log.of_kind(AccountKind.ATTACKER)
    if not records:
        return {}
    size = arena.judge.account_size
    histories = [r.history for r in records]
    if size > 0:
        att_accounts = pack(query_sequences(histories), size)
    else:
        by_name: dict[str, list[int]] = {}
        for i, r in enumerate(records):
            by_name.setdefault(r.account.name, []).append(i)
        att_accounts = list(by_name.values())
    test = arena.split.test
    sessions = [prefix_session(test.histories[r], arena.judge.benign_queries) for r in arena.benign_users()]
    sessions = [s for s in sessions if s]
    flat = [q for s in sessions for q in s]
    bounds = np.cumsum([0] + [len(s) for s in sessions])
    groups = [list(range(bounds[i], bounds[i + 1])) for i in range(len(sessions))]
    ben_accounts = pack(groups, size) if size > 0 else groups

    att = [_scored(detector, [histories[i] for i in acc]) for acc in att_accounts]
    ben = [_scored(detector, [flat[i] for i in acc]) for acc in ben_accounts]
    out: dict[str, float] = {}
    if att and ben:
        out.update(_curve_metrics(np.concatenate([a.queries for a in att]), np.concatenate([b.queries for b in ben]), "query"))
        out.update(_curve_metrics(np.asarray([a.account for a in att]), np.asarray([b.account for b in ben]), "account"))
        for part in set(att[0].parts) & set(ben[0].parts):  # one term of the score alone (an ablation)
            pos = np.concatenate([np.asarray(a.parts[part], np.float64) for a in att])
            neg = np.concatenate([np.asarray(b.parts[part], np.float64) for b in ben])
            if np.isfinite(pos).all() and np.isfinite(neg).all() and len(pos) and len(neg):
                labels = np.r_[np.ones(len(pos), bool), np.zeros(len(neg), bool)]
                out[f"defense.auroc_query_{part}"] = roc_auc(labels, np.r_[pos, neg])
        flags = np.zeros(len(flat), dtype=bool)
        for acc, b in zip(ben_accounts, ben):
            flags[acc] = b.flags
        out["defense.benign_flagged"] = float(flags.mean())
        out["defense.benign_refused"] = float(np.mean([flags[g].any() for g in groups]))  # per benign user
    out["defense.attacker_flagged"] = float(np.mean([r.flagged for r in records]))
    out["defense.attacker_refused"] = float(np.mean([a.flags.any() for a in att]))
    return out
