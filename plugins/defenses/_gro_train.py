"""GRO training: the sequential trainer runs on a wrapper net whose loss is L_T + lambda * L_swap.

Zhang, Yin, Chen, Long, WSDM 2024 (arXiv 2310.16335), section 4; the closed
form of the swap step is in ``_gro``. The victim's own training loop
(``recsec.plugins.sequential.trainer.train_sequential``: AdamW, clipping,
validation, early stopping, best-epoch restore) is reused unchanged: the
recommender's ``net`` is temporarily replaced by ``GROTrainingNet``, which
holds the target as its only registered submodule (so the optimizer, the
checkpoint and the validation see the target alone) and keeps the student
and its optimizer outside the module tree.

Per batch of real training windows:

1. The target's positions: BERT4Rec: the cloze positions, drawn exactly as
   ``BERT4RecNet.training_loss`` draws them (same generator, same rule; a test
   checks the two losses agree); SASRec: every real input position, its own
   BCE with one negative from the trainer's sampler. L_T = that loss.
2. t = the target's scores of every item at those positions; c = top-k(t), detached.
3. The student (same class and parameters, weights from an independent seed)
   scores the same inputs; L_S = DFME's ranking loss on its scores of c
   (negatives uniform outside c); g = dL_S/d(A s); the student takes a step.
4. j* in closed form, L_swap on the target's scores of c and j*.

With lam = 0 (the "GRO regime" control: the same warm start, batches, epochs
and served epoch without the swap) steps 2-4 are skipped: L_swap would enter
with weight 0, so the target's gradients are the same without the student, and
the control costs what plain training costs. The target's trajectory is then
bit-identical to a run that trains the student, except that the student's
dropout no longer draws from torch's global stream (a test checks the identity
without dropout).

Shapes: B windows, L columns, P positions, D hidden, N items, k list length.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from recsec.plugins.sequential.net import SeqNet, TrainTools
from recsec.plugins.sequential.trainer import clip_gradients, param_groups, train_sequential
from recsec.plugins.sequential.transformer import BERT4RecNet, SASRecNet, TransformerNet
from recsec.plugins.sequential.windows import trim_left

from ._gro import closed_form_swap, draw_negatives, student_loss, swap_loss
from ._gro_config import STUDENT_SEED

if TYPE_CHECKING:  # pragma: no cover
    from recsec.component import Values
    from recsec.context import RunContext
    from recsec.data import Split
    from recsec.plugins.sequential.base import SequentialRecommender


def cloze_inputs(net: BERT4RecNet, tokens: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT4Rec's cloze corruption, drawn with the net's own rule (``BERT4RecNet.training_loss`` draws
    the same, in the same order, from the same generator).

    tokens long (B, L) trimmed windows -> (corrupted input long (B, L), chosen bool (B, L)).
    """
    chosen, r = net.cloze_positions(tokens, g)
    # drawn even when nothing is chosen (training_loss returns before): this keeps GRO's stream as it was
    return net.cloze_input(tokens, chosen, r, g), chosen


#: What a GRO run sums over its steps (``stats`` turns them into means); "swap_steps" counts the steps with a swap.
SUMS = ("target_loss", "student_loss", "swap_loss", "masked_rows", "rows", "steps", "swap_steps")


class GROTrainingNet(SeqNet):
    """Wraps a target net for ``train_sequential``; the student lives outside the module tree."""

    #: lam = 0 trains no student (its swap loss would have weight 0); tests turn this off to
    #: check that the target trains the same either way.
    skip_student_at_zero = True

    def __init__(self, target: TransformerNet, student: TransformerNet, student_opt: torch.optim.Optimizer, cfg: "Values",
                 generator: torch.Generator, clip_norm: float, clip_mode: str = "global") -> None:
        super().__init__()
        if not isinstance(target, (BERT4RecNet, SASRecNet)):
            raise TypeError(f"GRO supports BERT4Rec and SASRec targets, not {type(target).__name__}")
        self.target = target
        self.n_items, self.window, self.input_len = target.n_items, target.window, target.input_len
        # object.__setattr__: not registered as a submodule (no optimizer, no state_dict, no .train()).
        object.__setattr__(self, "student", student)
        object.__setattr__(self, "student_opt", student_opt)
        self.cfg, self.gen, self.clip_norm, self.clip_mode = cfg, generator, clip_norm, clip_mode
        self.overhead_s = 0.0
        self.sums = dict.fromkeys(SUMS, 0.0)

    # -- resumable state: the student and its optimizer live outside state_dict() --------------------
    def training_state(self) -> dict[str, Any]:
        return {"student": self.student.state_dict(), "student_opt": self.student_opt.state_dict(),
                "generator": self.gen.get_state(), "sums": dict(self.sums), "overhead_s": self.overhead_s}

    def load_training_state(self, state: dict[str, Any]) -> None:
        self.student.load_state_dict(state["student"])
        self.student_opt.load_state_dict(state["student_opt"])
        self.gen.set_state(state["generator"])
        # no fallback for states without "swap_steps": they come from gro version 2, whose
        # victims have another training key (the defense's version is part of it)
        self.sums, self.overhead_s = dict(state["sums"]), float(state["overhead_s"])

    # -- the target's own loss ---------------------------------------------------------------------
    def _target_part(self, tokens: torch.Tensor, users: torch.Tensor, tools: TrainTools):
        """(summed L_T, its number of terms P, corrupted input (B, L), positions bool (B, L), z_T (P, D)),
        or None when there is nothing to learn; the sum and count follow ``SeqNet.training_loss``."""
        net = self.target
        tokens = trim_left(tokens)
        if isinstance(net, BERT4RecNet):
            inp, where = cloze_inputs(net, tokens, tools.generator)
            if not bool(where.any()):
                return None
            z = net.position_vectors(inp, where)
            logits = net.full_scores(z)  # (P, N)
            return F.cross_entropy(logits.float(), tokens[where] - 1, reduction="sum"), len(z), inp, where, z
        inp, tgt = tokens[:, :-1], tokens[:, 1:]
        where = inp > 0
        if not bool(where.any()):
            return None
        z = net.position_vectors(inp, where)  # (P, D)
        neg = tools.negatives(users[:, None].expand_as(inp)[where])
        items = torch.stack([tgt[where] - 1, neg - 1], dim=1)  # (P, 2)
        sc = net.item_scores(z, items)
        loss = (F.softplus(-sc[:, 0]) + F.softplus(sc[:, 1])).float().sum()
        return loss, len(z), inp, where, z

    # -- the student and the swap ---------------------------------------------------------------
    def _student_step(self, inp: torch.Tensor, where: torch.Tensor,
                      c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, float, int]:
        """Train the student one step on the target's lists c (P, k); returns (j*, valid, L_S, zero-gradient rows)."""
        student, cfg = self.student, self.cfg
        student.train()
        z_s = student.position_vectors(inp, where)  # (P, D)
        x = student.item_scores(z_s, c)  # (P, k) = A s
        x.retain_grad()
        neg, neg_ok = draw_negatives(c, self.n_items, self.gen)
        ls = student_loss(x, student.item_scores(z_s, neg), neg_ok, cfg.margin_topk, cfg.margin_neg)
        self.student_opt.zero_grad(set_to_none=True)
        ls.backward()
        g = x.grad.detach()  # (P, k) dL_S / d(A s)
        with torch.no_grad():
            s_full = student.full_scores(z_s.detach())  # (P, N), the scores L_S saw
            j_star, valid = closed_form_swap(g, s_full, self.cfg.zero_rows)
        clip_gradients([p for grp in self.student_opt.param_groups for p in grp["params"]], self.clip_norm, self.clip_mode)
        self.student_opt.step()
        return j_star, valid, float(ls.detach()), int((g == 0).sum())

    def training_loss(self, tokens: torch.Tensor, users: torch.Tensor,
                      tools: TrainTools) -> tuple[torch.Tensor, int] | None:
        """(sum of L_T's terms + P * lam * L_swap, P): the trainer divides by the terms per batch,
        so a step minimises L_T + lam * L_swap (both per-term means)."""
        part = self._target_part(tokens, users, tools)
        if part is None:
            return None
        lt_sum, n_terms, inp, where, z = part
        s = self.sums
        s["target_loss"] += float(lt_sum.detach()) / n_terms
        s["steps"] += 1
        if self.cfg.lam == 0 and self.skip_student_at_zero:
            return lt_sum, n_terms
        t0 = time.perf_counter()
        if self.cfg.max_positions > 0 and int(where.sum()) > self.cfg.max_positions:
            # a random subset of the positions, kept in the row-major order z came in
            pick = torch.randperm(z.size(0), generator=self.gen, device=z.device)[: self.cfg.max_positions].sort().values
            rows, cols = where.nonzero(as_tuple=True)
            z = z[pick]
            where = torch.zeros_like(where)
            where[rows[pick], cols[pick]] = True
        with torch.no_grad():
            k = min(self.cfg.k, self.n_items)
            c = self.target.full_scores(z.detach()).topk(k, dim=1).indices  # (P, k)
        j_star, valid, ls, n_zero = self._student_step(inp, where, c)
        lswap = swap_loss(self.target.item_scores(z, c), self.target.item_scores(z, j_star), valid)
        if z.is_cuda:
            torch.cuda.synchronize()
        self.overhead_s += time.perf_counter() - t0
        s["student_loss"] += ls
        s["swap_loss"] += float(lswap.detach())
        s["masked_rows"] += float(n_zero)  # masked under zero_rows="mask", first item swapped in otherwise
        s["rows"] += float(valid.numel())
        s["swap_steps"] += 1
        return lt_sum + n_terms * self.cfg.lam * lswap, n_terms

    def score_last(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.target.score_last(tokens)

    def stats(self) -> dict[str, float]:
        """Means over every step of the run (the ``victim.gro_*`` metrics); the student's and the
        swap's only when a swap step ran (lam = 0 runs none)."""
        s = self.sums
        out = {"gro_overhead_s": self.overhead_s, "gro_target_loss": s["target_loss"] / max(s["steps"], 1.0)}
        if s["swap_steps"]:
            n = s["swap_steps"]
            out.update(gro_student_loss=s["student_loss"] / n, gro_swap_loss=s["swap_loss"] / n,
                       gro_masked_rows=s["masked_rows"] / max(s["rows"], 1.0))
        return out


def build_gro_net(rec: "SequentialRecommender", ctx: "RunContext", cfg: "Values") -> GROTrainingNet:
    """Target, student (seed ``("gro", "student")``) and the wrapper.

    The target is ``rec.net`` when it already holds a net (a warm start from
    trained weights, the reference code's ``--use_pretrained``), else a new
    net drawn with the recommender's own init seed, as ``fit`` draws it.
    """
    device = ctx.device if ctx.device is not None else torch.device("cpu")
    rec.device = device
    if isinstance(rec.net, (BERT4RecNet, SASRecNet)) and rec.net.n_items == rec.n_items:
        target = rec.net.to(device)
    else:
        target = rec.draw_net(rec.n_items, rec.init_seed(ctx)).to(device)
    with torch.random.fork_rng(devices=[]):
        student = rec.draw_net(rec.n_items, ctx.seed_for(*STUDENT_SEED)).to(device)
    p = rec.p
    opt = torch.optim.AdamW(param_groups(student, p.weight_decay, p.decay_embeddings), lr=cfg.student_lr)
    gen = torch.Generator(device=device)
    gen.manual_seed(ctx.seed_for("gro", "negatives"))
    return GROTrainingNet(target, student, opt, cfg, gen, p.clip_norm, p.clip_mode)


def train_gro(rec: "SequentialRecommender", split: "Split", ctx: "RunContext", cfg: "Values") -> dict[str, Any]:
    """Train ``rec`` with GRO (from ``rec.net`` if it holds trained weights); afterwards ``rec.net`` is the
    plain target net, so checkpoints load as usual."""
    rec.n_items = int(split.train.n_items)
    wrapper = build_gro_net(rec, ctx, cfg)
    rec.net = wrapper
    try:
        stats = train_sequential(rec, split, ctx)
    finally:
        rec.net = wrapper.target
    rec.net.eval()
    stats.update(wrapper.stats())
    return stats
