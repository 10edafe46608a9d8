"""Device selection: ``cuda`` when present, else ``cpu``; the same code path on both."""

from __future__ import annotations


def device_problem(name: str) -> str | None:
    """Why ``name`` is not a device recsec knows (``auto``, ``cpu``, ``cuda``, ``cuda:N``), or None.

    Only the spelling: whether the machine has that GPU is ``resolve_device``'s question.
    """
    if name in ("auto", "cpu", "cuda"):
        return None
    kind, sep, index = name.partition(":")
    if kind == "cuda" and sep and index.isdigit() and index.isascii():
        return None
    return f"unknown device {name!r}: use auto, cpu, cuda or cuda:N"


def resolve_device(name: str = "auto"):
    """Return a ``torch.device`` for ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.

    A device that is not there is a ``DeviceError`` (one line, before any cell runs).
    """
    import torch

    from .errors import DeviceError

    if (problem := device_problem(name)) is not None:
        raise DeviceError(problem)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceError(f"device {name!r} was requested but torch reports no CUDA device (use --device cpu)")
        count = torch.cuda.device_count()
        index = int(name.partition(":")[2] or 0)
        if index >= count:
            raise DeviceError(f"device {name!r} was requested but torch sees {count} GPU(s): cuda:0 to cuda:{count - 1}")
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
