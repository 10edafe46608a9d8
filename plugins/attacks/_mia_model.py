"""The membership-inference attack model (torch): MLP d -> 32 -> 8 -> 2 (Zhang et al., CCS 2021)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def build_mlp(dim: int, hidden: tuple[int, ...] = (32, 8)) -> nn.Sequential:
    """ReLU MLP ``dim -> hidden... -> 2`` returning logits (member = class 1)."""
    layers: list[nn.Module] = []
    width = dim
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    layers.append(nn.Linear(width, 2))
    return nn.Sequential(*layers)


def train_mlp(
    X: np.ndarray,
    y: np.ndarray,
    *,
    lr: float,
    epochs: int,
    batch_size: int,
    weight_decay: float,
    init_seed: int,
    order_seed: int,
    device: torch.device,
) -> tuple[nn.Sequential, list[float]]:
    """Fit the attack MLP with Adam on cross-entropy (initial weights from ``init_seed``, batch order from ``order_seed``).

    Args:
        X: float (n, d) features; y: int (n,) labels (1 = member).
    Returns:
        The trained model (eval mode) and the mean training loss per epoch.
    """
    with torch.random.fork_rng(devices=[]):  # the global stream is left untouched
        torch.manual_seed(init_seed)
        model = build_mlp(X.shape[1]).to(device)
    gen = torch.Generator(device="cpu")
    gen.manual_seed(order_seed)
    Xt = torch.as_tensor(X, dtype=torch.float32, device=device)
    yt = torch.as_tensor(y, dtype=torch.int64, device=device)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    n = len(Xt)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen).to(device)
        total = 0.0
        for start in range(0, n, batch_size):
            idx = perm[start : start + batch_size]
            opt.zero_grad()
            loss = loss_fn(model(Xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        losses.append(total / n)
    model.eval()
    return model, losses


def member_probability(model: nn.Sequential, X: np.ndarray) -> np.ndarray:
    """Softmax probability of class 1 (member), float64 (n,)."""
    dev = next(model.parameters()).device
    with torch.no_grad():
        logits = model(torch.as_tensor(X, dtype=torch.float32, device=dev))
        return torch.softmax(logits.double(), dim=1)[:, 1].cpu().numpy()


def train_mlp_reference(X: np.ndarray, y: np.ndarray, *, init_seed: int, device: torch.device,
                        epochs: int = 20, lr: float = 0.01, momentum: float = 0.9) -> nn.Sequential:
    """The attack model as the released code of Zhang et al. (CCS 2021) trains it.

    Its MLP ends in a softmax and is trained with cross-entropy on those probabilities
    (a softmax applied twice), by SGD (lr 0.01, momentum 0.9) one user per step, in
    file order (members first), for 20 epochs, on unscaled features (methods.md section
    6). Returns the plain logit model: ``member_probability`` then gives the
    reference's outputs, and its 0.5 threshold its decisions.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)
        model = build_mlp(X.shape[1]).to(device)
    Xt = torch.as_tensor(X, dtype=torch.float32, device=device)
    yt = torch.as_tensor(y, dtype=torch.int64, device=device)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for _ in range(epochs):
        for i in range(len(Xt)):
            opt.zero_grad()
            loss_fn(torch.softmax(model(Xt[i : i + 1]), dim=1), yt[i : i + 1]).backward()
            opt.step()
    model.eval()
    return model
