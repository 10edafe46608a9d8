"""Device selection: ``cuda`` when present, else ``cpu``; the same code path on both."""

from __future__ import annotations


def resolve_device(name: str = "auto"):
    """Return a ``torch.device`` for ``auto``, ``cpu`` or ``cuda``; error if cuda is asked for but absent."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was requested but torch reports no CUDA device")
    if name not in ("cpu",) and not name.startswith("cuda"):
        raise ValueError(f"unknown device {name!r}: use auto, cpu or cuda")
    return torch.device(name)


def use_deterministic_kernels(device) -> bool:
    """Ask torch for deterministic kernels on the CPU; returns whether it did.

    With several threads, the CPU's default ``index_put_(accumulate=True)`` (the backward of
    a gather such as GRO's ``W[c]``) adds in a thread-dependent order: one seed then gives
    last-bit differences that training amplifies into different victims. On CUDA this stays
    off: some kernels have no deterministic version and cuBLAS would need
    ``CUBLAS_WORKSPACE_CONFIG``, so GPU runs are reproducible only up to such differences.
    """
    import torch

    if torch.device(device).type != "cpu":
        return False
    torch.use_deterministic_algorithms(True, warn_only=True)
    # Deterministic mode also fills every torch.empty with NaN by default: a large cost and
    # no help here, since no result reads memory it has not written.
    torch.utils.deterministic.fill_uninitialized_memory = False
    return True


def hardware_info() -> dict[str, object]:
    """What the cell ran on, stored with every result."""
    import os
    import platform

    import torch

    info: dict[str, object] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        # Floating-point results of MKL / oneDNN kernels depend on the instruction set they
        # dispatch to, so two CPUs can train a victim to different weights from one seed.
        "cpu_model": _cpu_model(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cuda": torch.cuda.is_available(),
        "deterministic_kernels": torch.are_deterministic_algorithms_enabled(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def _cpu_model() -> str:
    """The processor's name (``model name`` in /proc/cpuinfo on Linux, else ``platform.processor()``)."""
    import platform

    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()
