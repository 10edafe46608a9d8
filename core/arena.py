"""The arena: a trained victim of one cell, its split, its prepared defense and its seed streams.

Everything that runs a cell goes through it: the runner, tuning, the conformance kit,
the benchmark scripts and the tests. It serves black boxes (``serve``), measures the
victim's utility through the defense (``utility``) and runs an attack (``attack``):
the attack gets a black box and exactly the knowledge its threat model declares
(``grant``), returns an output, and a core judge scores it against the truth that stays
here (test targets, membership labels, the undefended victim's own lists).
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from .blackbox import AccountKind, BlackBoxAPI
from .context import AttackContext, RunContext
from .data import EvalSet, Split
from .errors import PluginOutputError, RecsecError, raised_in
from .frozen import freeze
from .journal import AnswerJournal
from .queries import Queries
from .recommender import TrainReport
from .streams import Streams
from .seeding import derive_seed, seed_global
from .threat import Knowledge, KnowledgeParcel, PollutionTasks, Serving, ThreatModel
from .validation import check_lists, check_numbers

if TYPE_CHECKING:  # pragma: no cover
    from .attack import Attack
    from .data import Interactions
    from .defense import Defense
    from .protocols import MembershipPartition, Protocol
    from .recommender import Recommender


#: The share of real sequences whose holders ``attack.agr@10_unseen`` leaves out (the few-shot papers' 10 %).
UNSEEN_FRACTION = 0.1


@dataclass(frozen=True)
class JudgeSettings:
    """How the judges score (the spec's ``[judge]`` table; part of every cell's identity).

    Attributes:
        eval_users: test users an extraction is scored on (0: all; else a seeded subset).
        benign_users: held-out users whose sessions are a detector's benign traffic (0: all test users).
        account_size: queries per account when the judge groups whole query sequences (the
            attacker's generated sequences, the benign users' sessions) into accounts; 0: one
            account per logged account name and one per benign user.
        benign_queries: the last this many prefixes of a benign user's history form its session (0: all).
    """

    eval_users: int = 0
    benign_users: int = 1000
    account_size: int = 50
    benign_queries: int = 50

    def identity(self) -> dict[str, int]:
        return dataclasses.asdict(self)


@dataclass
class Verdict:
    """What the judges found for one attack run: judged metrics, the attack's own diagnostics and curves."""

    metrics: dict[str, float]
    diagnostics: dict[str, float] = field(default_factory=dict)
    curves: dict[str, list[dict[str, float]]] = field(default_factory=dict)


def fresh_copy(component: Any) -> Any:
    """A new, untrained instance with the same parameters (components carry state once used)."""
    return type(component)(**component.given_params)


class Arena:
    """One cell's prepared victim; see the module docstring.

    Args:
        victim: the trained recommender. ``recommender``: its untrained template (the
            algorithm an attacker may know). ``defense``: the prepared defense.
        split: the protocol's split; ``streams``: the cell's seed streams; ``k``: the spec's
            list length; ``report``: the victim's training report.
    """

    def __init__(self, *, victim: "Recommender", recommender: "Recommender", split: Split, defense: "Defense",
                 streams: Streams, k: int, device: Any, report: TrainReport | None = None,
                 judge: JudgeSettings | None = None, log: Callable[[str], None] = lambda m: None,
                 progress: bool = False, work_dir: Path | None = None, attack_dir: Path | None = None,
                 isolate: bool = False) -> None:
        self.victim, self.recommender, self.split, self.streams = victim, recommender, split, streams
        self.k, self.device, self.log, self.progress, self.work_dir = k, device, log, progress, work_dir
        self.attack_dir, self.isolate = attack_dir, isolate
        self.report = report or TrainReport()
        self.judge = judge or JudgeSettings()
        self.defense = defense

    @classmethod
    def for_testing(cls, *, recommender: "Recommender", data: "Interactions", attack: "Attack | None" = None,
                    defense: "Defense | None" = None, protocol: "Protocol | None" = None, seed: int = 0,
                    k: int = 100, judge: JudgeSettings | None = None, device: Any = None,
                    trained: "Recommender | None" = None, log: Callable[[str], None] = lambda m: None,
                    isolate: bool = False) -> "Arena":
        """An arena outside any run (the conformance kit, scripts, tests): the same assembly as a
        cell's, with ``seed`` as the cell seed. ``protocol`` defaults to ``attack``'s (else
        leave-one-out); ``defense`` to none; ``trained``: an already trained victim to use as is."""
        import torch

        from .defense import Undefended
        from .protocols import LeaveOneOut

        device = device if device is not None else torch.device("cpu")
        defense = defense if defense is not None else Undefended()
        protocol = protocol or (attack.protocol() if attack is not None else LeaveOneOut())
        streams = Streams(seed)
        seed_global(streams.seed_of("global"))
        split = freeze(protocol.split(data, streams.rng("split", protocol.key)))
        ctx = RunContext(seed=streams.seed_of("victim"), device=device, log=log)
        if trained is None:
            model = fresh_copy(recommender).to(device)
            report = TrainReport.of(defense.train_victim(model, split, ctx), f"recommender {recommender.name!r}: fit()")
        else:
            model, report = trained, TrainReport()
        arena = cls(victim=model, recommender=recommender, split=split, defense=fresh_copy(defense), streams=streams,
                    k=k, device=device, report=report, judge=judge, log=log, isolate=isolate)
        arena.prepare(arena.defense)
        return arena

    @property
    def n_items(self) -> int:
        return int(self.victim.n_items)

    # -- contexts and black boxes -----------------------------------------------------------------
    def context(self, stream: str = "victim") -> RunContext:
        """The RunContext of ``stream`` (``victim``: training and the defense's preparation)."""
        return RunContext(seed=self.streams.seed_of(stream), device=self.device, progress=self.progress,
                          work_dir=self.work_dir, log=self.log)

    def prepare(self, defense: "Defense") -> "Defense":
        """``defense`` prepared against this victim (a detector never sees the benign users)."""
        from .detection import QueryDetector

        split = self.split
        if isinstance(defense, QueryDetector):
            split = without_users(split, self.benign_users())
        defense.prepare(self.victim, split, self.context())
        return defense

    def serving(self, attack: "Attack") -> Serving:
        """The attack's serving with the spec's ``k`` filled in."""
        s = attack.serving()
        if not isinstance(s, Serving):
            raise PluginOutputError(f"attack {attack.name!r}: serving() must return a recsec.threat.Serving")
        return s if s.k is not None else dataclasses.replace(s, k=self.k)

    def serve(self, kind: AccountKind, serving: Serving, *, defense: "Defense | None" = None,
              rng: np.random.Generator | None = None, log_queries: bool = True,
              journal: "AnswerJournal | None" = None) -> BlackBoxAPI:
        """A black box over the victim for accounts of ``kind``, through ``defense`` (none: undefended)."""
        return BlackBoxAPI(self.victim, serving, kind=kind, defense=defense, popular=self.popular(serving),
                           rng=rng, log_queries=log_queries, journal=journal)

    def popular(self, serving: Serving) -> np.ndarray:
        """The cold-start popular ranking ``serving`` asks for (see ``Serving.popular_from``)."""
        if serving.popular_from == "nonmembers":
            part = self.membership_partition()
            observed = part.observed
            return observed.subset(np.isin(observed.users, part.target_nonmembers)).popularity_ranking()
        return self.split.train.popularity_ranking()

    def reference_top10(self, queries: Queries) -> np.ndarray:
        """The undefended victim's top 10 (the judges' reference; never handed to an attack)."""
        return check_lists(self.victim.topk(queries, 10), queries, self.n_items, f"recommender {self.victim.name!r}: topk()",
                           k=10, exact=True, exclude_history=True)

    # -- the truth the judges read ------------------------------------------------------------------
    def eval_set(self) -> EvalSet:
        """The test users extractions are scored on: all, or a seeded subset of ``judge.eval_users``."""
        test, n = self.split.test, self.judge.eval_users
        idx = np.arange(len(test))
        if 0 < n < len(test):
            idx = np.sort(self.streams.rng("eval-users").choice(len(test), n, replace=False))
        return EvalSet(test.users[idx], [test.histories[i] for i in idx], test.targets[idx])

    def membership_partition(self) -> "MembershipPartition":
        part = self.split.extra.get("membership")
        if part is None:
            raise RecsecError("this cell's protocol has no membership partition (the attack's protocol() must be Membership)")
        return part

    def benign_users(self) -> np.ndarray:
        """Rows of ``split.test`` whose sessions are benign traffic (never seen by a detector's preparation)."""
        from .sampling import pick_rows

        return pick_rows(len(self.split.test), self.judge.benign_users, self.streams.rng("benign"))

    # -- utility --------------------------------------------------------------------------------
    def utility(self, serving: Serving | None = None, defense: "Defense | None" = None) -> dict[str, float]:
        """``utility.*``: the undefended victim on the test targets; ``defended.*``: the lists the
        test users are served through the defense (as the evaluator, outside any budget).

        ``serving`` defaults to the service's own rules (``Serving(k)``: the spec's list length,
        fold-in, history excluded), the same for every attack, so a defense's utility cost does
        not depend on which attack a cell runs."""
        serving = serving if serving is not None else Serving(k=self.k)
        from .evaluation import evaluate
        from .metrics import list_diversity, ranking_metrics

        test = self.split.test
        out = {f"utility.{k}": v for k, v in evaluate(self.victim, test, mode="full", ks=(10,)).items()}
        out.update({f"utility.{k}_unmasked": v for k, v in evaluate(self.victim, test, mode="unmasked", ks=(10,)).items()})
        sampled = evaluate(self.victim, test, mode="sampled", ks=(10,), seed=self.streams.seed_of("test-negatives"))
        out.update({f"utility.sampled_{k}": v for k, v in sampled.items()})
        if len(test) == 0:
            return out
        q = Queries(test.histories, test.users)
        api = self.serve(AccountKind.EVALUATOR, dataclasses.replace(serving, budget=None),
                         defense=copy.deepcopy(defense if defense is not None else self.defense),
                         rng=self.streams.rng("evaluator"), log_queries=False)
        lists = api.query(q, account=[f"user-{u}" for u in test.users])  # each test user asks as itself
        hit = lists == test.targets[:, None]
        ranks = np.where(hit.any(axis=1), hit.argmax(axis=1), np.iinfo(np.int64).max // 2)
        out.update({f"defended.{k}": v for k, v in ranking_metrics(ranks, ks=(10,)).items()})
        # the cost against the same victim's own served lists (its top-k, ties broken as it breaks them),
        # not against utility.* (full ranking, ties counted pessimistically): a no-op defense costs 0
        plain = self.victim.topk(q, int(api.k), exclude_history=api.exclude_history) == test.targets[:, None]
        plain_hr = float(plain[:, :10].any(axis=1).mean())
        if plain_hr > 0:
            out["defended.hr@10_cost"] = 1.0 - out["defended.hr@10"] / plain_hr
        # A victim returning nearly one list to everybody makes agreement meaningless (methods.md section 7).
        out.update({f"utility.{k}": v for k, v in list_diversity(self.reference_top10(q)).items()})
        return out

    # -- attacks --------------------------------------------------------------------------------
    def grant(self, attack: "Attack", serving: Serving, defense: "Defense | None" = None) -> Knowledge:
        """Exactly the knowledge ``attack.threat_model()`` declares (``defense``: the one deployed)."""
        return self.parcel(attack, serving, defense).knowledge()

    def parcel(self, attack: "Attack", serving: Serving, defense: "Defense | None" = None) -> KnowledgeParcel:
        """``grant``'s knowledge as plain data, as it travels to an isolated attacker's process."""
        tm = attack.threat_model()
        if not isinstance(tm, ThreatModel):
            raise PluginOutputError(f"attack {attack.name!r}: threat_model() must return a recsec.threat.ThreatModel")
        mirror_serving = dataclasses.replace(serving, k=min(int(serving.k), self.n_items), budget=None)
        kn = KnowledgeParcel(attack=attack.name, n_items=self.n_items, k=int(mirror_serving.k), threat=tm,
                             mirror_serving=mirror_serving, device=self.device)
        if tm.algorithm:
            kn.victim_template = (type(self.recommender), dict(self.recommender.given_params))
        if tm.defense:
            deployed = defense if defense is not None else self.defense
            kn.defense_template = (type(deployed), dict(deployed.given_params))
        if tm.real_fraction > 0:
            kn.real_sequences, kn.real_users = self._real_sequences(tm.real_fraction)
        if tm.auxiliary:
            from .protocols import knowledge_of

            kn.membership = knowledge_of(self.membership_partition(), self.streams.rng("target-order"))
        if tm.pollution is not None:
            kn.pollution = self._pollution_tasks(tm.pollution.n_targets, tm.pollution.n_users, tm.pollution.n_append)
        if tm.init_seed:
            kn.init_seed = self.report.init_seed
        return kn

    def real_user_order(self) -> np.ndarray:
        """The training users with >= 2 training items in one seeded order: an attacker granted a
        fraction f of real sequences holds the first round(f * n), so every fraction's users are
        nested and the users outside the first 10 % are one fixed set (``unseen_users``)."""
        seqs = self.split.train.sequences()
        users = np.asarray([u for u, s in enumerate(seqs) if len(s) >= 2], dtype=np.int64)
        return users[self.streams.rng("real-users").permutation(len(users))]

    def _real_sequences(self, fraction: float) -> tuple[list[np.ndarray], np.ndarray]:
        """The first ``fraction`` of ``real_user_order``: their training sequences and ids."""
        order = self.real_user_order()
        n = min(len(order), max(1, int(round(fraction * len(order)))))
        seqs = self.split.train.sequences()
        return [np.asarray(seqs[u], dtype=np.int64) for u in order[:n]], order[:n]

    def unseen_users(self, fraction: float = 0.0) -> np.ndarray:
        """Users no attacker holding up to max(``fraction``, 10 %) of the real sequences holds: the
        fixed set every extraction is scored on for ``attack.agr@10_unseen``, with or without real data."""
        order = self.real_user_order()
        n = min(len(order), max(1, int(round(max(fraction, UNSEEN_FRACTION) * len(order)))))
        return np.setdiff1d(np.arange(self.split.train.n_users), order[:n])

    def _pollution_tasks(self, n_targets: int, n_users: int, n_append: int) -> PollutionTasks:
        from .judges.pollution import choose_targets

        test = self.split.test
        rows = np.sort(self.streams.rng("pollution-users").choice(len(test), min(n_users, len(test)), replace=False))
        targets = choose_targets(self.split.train.item_counts(), n_targets, self.streams.rng("pollution-targets"))
        return PollutionTasks([np.asarray(test.histories[i], dtype=np.int64) for i in rows], targets, n_append)

    def attack(self, attack: "Attack", defense: "Defense | None" = None, budget: int | None = None) -> Verdict:
        """Run ``attack`` against a private copy of the prepared defense (``defense``: another
        prepared one, e.g. a tuning trial's) and judge its output; ``budget`` caps the
        attacker's queries below what its serving allows (the conformance kit's check)."""
        from .judges import judge_output

        who = f"attack {attack.name!r}: run()"
        defense = copy.deepcopy(defense if defense is not None else self.defense)
        serving = self.serving(attack)
        if budget is not None:
            serving = dataclasses.replace(serving, budget=min(budget, serving.budget or budget))
        journal = AnswerJournal(self.attack_dir / "answers") if self.attack_dir is not None else None
        api = self.serve(AccountKind.ATTACKER, serving, defense=defense, rng=self.streams.rng("api"), journal=journal)
        parcel = self.parcel(attack, serving, defense)
        knowledge = parcel.knowledge()  # the judges read it too (which users it was given)
        context = dict(seed=self.streams.seed_of("attack"), device=self.device,
                       work_dir=self.attack_dir / "state" if self.attack_dir is not None else None)
        try:
            if self.isolate:
                from .isolation import run_isolated

                out = run_isolated(attack, api, parcel, context, self.log)
            else:
                # the same global seed the attacker's process sets, so both ways give one result
                seed_global(derive_seed(context["seed"], "attack-process"))
                out = attack.run(api, AttackContext(**context, progress=self.progress, log=self.log, knowledge=knowledge))
        except (KeyboardInterrupt, RecsecError):
            raise
        except BaseException as exc:  # SystemExit too: name the attack, keep the cause
            raise raised_in(who, exc) from exc
        if not isinstance(out, attack.output) or attack.output.threat == "":
            raise PluginOutputError(f"{who} must return a {attack.output.__name__} (recsec.outputs), got {type(out).__name__}")
        if journal is not None and journal.replayed:
            self.log(f"{attack.name}: {journal.replayed} of {api.queries_used} queries answered from the journal")
        metrics = judge_output(self, out, api, knowledge, defense, who)
        diagnostics = check_numbers(out.diagnostics, f"{who} diagnostics")
        return Verdict(metrics, {f"diag.{k}": v for k, v in diagnostics.items()}, dict(out.curves))


def without_users(split: Split, rows: np.ndarray) -> Split:
    """``split`` without the test rows ``rows``' users anywhere (their events and evaluation rows)."""
    users = np.asarray(split.test.users)[rows]
    if len(users) == 0:
        return split
    keep = ~np.isin(split.train.users, users)

    def drop(es: EvalSet) -> EvalSet:
        m = ~np.isin(es.users, users)
        return EvalSet(es.users[m], [h for h, k in zip(es.histories, m) if k], es.targets[m])

    return dataclasses.replace(split, train=split.train.subset(keep), valid=drop(split.valid), test=drop(split.test))
