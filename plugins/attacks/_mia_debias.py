"""DL-MIA's models (torch): the disentangled encoder, the three attack heads and the weight estimator.

Wang, Huang, Sun, Ren, Chen, Luo, de Rijke, Ren, "Debiasing Learning for Membership
Inference Attacks Against Recommender Systems", KDD 2022 (arXiv 2206.12401). Shapes:
n vectors, d their dimension, m the latent size of each half of the code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ._mia_model import build_mlp


class DisentangledEncoder(nn.Module):
    """A VAE over difference vectors whose code has a recommender-invariant half y and a
    recommender-specific half z, each a diagonal Gaussian q(.|x) with a standard normal prior.

    The paper follows VGVAE (Chen et al., NAACL 2019): y is von Mises-Fisher and z Gaussian,
    and difference vectors are tokenised and decoded as a bag of words. recsec keeps both
    halves Gaussian and decodes the vector itself with a squared error (inferred: the
    simplest VAE with the paper's two-part code; vMF sampling adds nothing this test needs).
    """

    def __init__(self, dim: int, hidden: int, latent: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU())
        self.heads = nn.Linear(hidden, 4 * latent)  # mu_y, logvar_y, mu_z, logvar_z
        self.decoder = nn.Sequential(nn.Linear(2 * latent, hidden), nn.ReLU(), nn.Linear(hidden, dim))
        self.latent = latent

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(mu_y, logvar_y, mu_z, logvar_z), each (n, m)."""
        return tuple(self.heads(self.body(x)).split(self.latent, dim=1))

    def codes(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The posterior means (y, z): what the attack heads read."""
        mu_y, _, mu_z, _ = self.encode(x)
        return mu_y, mu_z


def _sample(mu: torch.Tensor, logvar: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    eps = torch.randn(mu.shape, generator=gen).to(mu.device)
    return mu + torch.exp(0.5 * logvar) * eps


def _kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1)


def encoder_loss(enc: DisentangledEncoder, xs: torch.Tensor, xt: torch.Tensor, gen: torch.Generator,
                 kl_y: float, kl_z: float) -> torch.Tensor:
    """VGVAE's multi-task loss on pairs (x_s, x_t) of a shadow and a target difference vector:
    each is reconstructed from its own code and from the pair partner's invariant half with its
    own specific half (dec(y_t, z_s) ~ x_s, dec(y_s, z_t) ~ x_t), so y must carry what the two
    recommenders' vectors share and z what is particular to each; plus the KL terms."""
    ys_mu, ys_lv, zs_mu, zs_lv = enc.encode(xs)
    yt_mu, yt_lv, zt_mu, zt_lv = enc.encode(xt)
    ys, zs = _sample(ys_mu, ys_lv, gen), _sample(zs_mu, zs_lv, gen)
    yt, zt = _sample(yt_mu, yt_lv, gen), _sample(zt_mu, zt_lv, gen)
    dec = enc.decoder
    rec = sum(((dec(torch.cat(c, dim=1)) - x) ** 2).sum(dim=1)
              for c, x in (((ys, zs), xs), ((yt, zt), xt), ((yt, zs), xs), ((ys, zt), xt)))
    kl = kl_y * (_kl(ys_mu, ys_lv) + _kl(yt_mu, yt_lv)) + kl_z * (_kl(zs_mu, zs_lv) + _kl(zt_mu, zt_lv))
    return (rec + kl).mean()


def pair_partners(hs: np.ndarray, ht: np.ndarray) -> np.ndarray:
    """For each shadow user the target user whose history centroid is the closest in cosine
    (inferred: the paper pairs shadow and target vectors; who with whom is not stated)."""
    a = hs / np.maximum(np.linalg.norm(hs, axis=1, keepdims=True), 1e-12)
    b = ht / np.maximum(np.linalg.norm(ht, axis=1, keepdims=True), 1e-12)
    return np.argmax(a @ b.T, axis=1)


class AttackHeads(nn.Module):
    """Three MLPs d -> 32 -> 8 -> 2 (Zhang et al.'s attack model) on the raw vector x, the
    invariant code y and the specific code z; the prediction mixes their probabilities
    ``(1 - alpha - beta) p(x) + alpha p(y) + beta p(z)`` (the released code's combination)."""

    def __init__(self, dim: int, latent: int, alpha: float, beta: float) -> None:
        super().__init__()
        self.raw, self.inv, self.spec = build_mlp(dim), build_mlp(latent), build_mlp(latent)
        self.mix = (1.0 - alpha - beta, alpha, beta)

    def probs(self, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(p_raw, p_inv, p_spec, p_mixed), each (n, 2)."""
        p = [F.softmax(h(v), dim=1) for h, v in ((self.raw, x), (self.inv, y), (self.spec, z))]
        return (*p, sum(w * q for w, q in zip(self.mix, p)))


def _nll(p: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return -torch.log(p.gather(1, labels.view(-1, 1)).squeeze(1).clamp_min(1e-12))


def head_losses(heads: AttackHeads, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor,
                labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-vector losses: the mixed training loss ``sum_h w_h CE_h`` and the biased (raw head) one."""
    p_raw, p_inv, p_spec, _ = heads.probs(x, y, z)
    w = heads.mix
    per = [_nll(p, labels) for p in (p_raw, p_inv, p_spec)]
    return w[0] * per[0] + w[1] * per[1] + w[2] * per[2], per[0]


def truth_levels(biased: torch.Tensor, debiased: torch.Tensor, floor: float) -> torch.Tensor:
    """The weight estimator: per difference vector the truth level p in [floor, 1] minimising
    (d_b / p - d_d)^2 (the released code's objective, a propensity that turns the biased loss
    d_b into the debiased loss d_d), i.e. p = d_b / d_d clipped. A vector that is far easier
    from the raw estimate than from the recommender-invariant code gets a low weight. The
    released code fits p by gradient steps, alternating with the attack model every 10
    epochs; recsec takes the minimiser in closed form (inferred: the same fixed point)."""
    return (biased / debiased.clamp_min(1e-12)).clamp(floor, 1.0)


@dataclass(frozen=True)
class DebiasSettings:
    """Hyperparameters of one DL-MIA fit (the attack's parameters)."""

    latent: int
    hidden: int
    alpha: float
    beta: float
    kl_y: float
    kl_z: float
    lr: float
    batch: int
    vae_epochs: int
    mlp_epochs: int
    rounds: int
    round_epochs: int
    floor: float


def _batches(n: int, size: int, gen: torch.Generator) -> list[torch.Tensor]:
    perm = torch.randperm(n, generator=gen)
    return [perm[i : i + size] for i in range(0, n, size)]


def fit_dl_mia(Xs: np.ndarray, ys: np.ndarray, Xt: np.ndarray, partner: np.ndarray, cfg: DebiasSettings,
               seed: int, device: torch.device) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """Train the encoder, the heads and the weighted rounds; return the member probabilities of
    the target and the shadow vectors and a few statistics of the fit.

    1. The encoder on (shadow, partner target) pairs (``vae_epochs``).
    2. The heads on the shadow vectors and their labels, the encoder frozen (``mlp_epochs``).
    3. ``rounds`` times: the target vectors get pseudo-labels from the mixed prediction; every
       vector gets its truth level; the heads train ``round_epochs`` on the shadow vectors
       (labels) and the target vectors (pseudo-labels), each loss weighted by its truth level.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        enc = DisentangledEncoder(Xs.shape[1], cfg.hidden, cfg.latent).to(device)
        heads = AttackHeads(Xs.shape[1], cfg.latent, cfg.alpha, cfg.beta).to(device)
    gen = torch.Generator(device="cpu")
    gen.manual_seed(seed + 1)
    xs = torch.as_tensor(Xs, dtype=torch.float32, device=device)
    xt = torch.as_tensor(Xt, dtype=torch.float32, device=device)
    labels = torch.as_tensor(ys, dtype=torch.int64, device=device)
    pt = torch.as_tensor(partner, dtype=torch.int64, device=device)

    opt = torch.optim.Adam(enc.parameters(), lr=cfg.lr)
    enc.train()
    for _ in range(cfg.vae_epochs):
        for idx in _batches(len(xs), cfg.batch, gen):
            opt.zero_grad()
            encoder_loss(enc, xs[idx], xt[pt[idx]], gen, cfg.kl_y, cfg.kl_z).backward()
            opt.step()
    enc.eval()
    with torch.no_grad():
        cs, ct = enc.codes(xs), enc.codes(xt)

    def train_heads(x: torch.Tensor, y: torch.Tensor, z: torch.Tensor, lab: torch.Tensor, w: torch.Tensor,
                    epochs: int) -> None:
        heads.train()
        for _ in range(epochs):
            for idx in _batches(len(x), cfg.batch, gen):
                opt_h.zero_grad()
                loss, _ = head_losses(heads, x[idx], y[idx], z[idx], lab[idx])
                (loss * w[idx]).sum().div(w[idx].sum().clamp_min(1e-12)).backward()
                opt_h.step()
        heads.eval()

    opt_h = torch.optim.Adam(heads.parameters(), lr=cfg.lr)
    train_heads(xs, *cs, labels, torch.ones(len(xs), device=device), cfg.mlp_epochs)
    stats = {"mean_truth_shadow": 1.0, "mean_truth_target": 1.0, "pseudo_member_share": float("nan")}
    x_all, y_all, z_all = torch.cat([xs, xt]), torch.cat([cs[0], ct[0]]), torch.cat([cs[1], ct[1]])
    for _ in range(cfg.rounds):
        with torch.no_grad():
            pseudo = heads.probs(xt, *ct)[3].argmax(dim=1)
            lab = torch.cat([labels, pseudo])
            _, biased = head_losses(heads, x_all, y_all, z_all, lab)
            p_inv = heads.probs(x_all, y_all, z_all)[1]
            weights = truth_levels(biased, _nll(p_inv, lab), cfg.floor)
        stats = {"mean_truth_shadow": float(weights[: len(xs)].mean()), "mean_truth_target": float(weights[len(xs):].mean()),
                 "pseudo_member_share": float(pseudo.float().mean())}
        train_heads(x_all, y_all, z_all, lab, weights, cfg.round_epochs)
    with torch.no_grad():
        p_target = heads.probs(xt, *ct)[3][:, 1].double().cpu().numpy()
        p_shadow = heads.probs(xs, *cs)[3][:, 1].double().cpu().numpy()
    return p_target, p_shadow, stats
