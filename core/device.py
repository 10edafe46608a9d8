"""Device selection (``cuda`` when present, else ``cpu``; the same code path on both), the
CPU thread policy, and what a result ran on.

Thread policy (``thread_policy``, applied before torch starts its thread pools): each process
that computes cells uses ``--threads`` torch threads, by default the cores this process may
run on (``os.sched_getaffinity``) divided by the processes computing at once, never more than
the machine's physical cores; one inter-op thread; and OpenMP threads that sleep instead of
spinning when they wait (``OMP_WAIT_POLICY=PASSIVE``). Torch's own defaults (a thread per
logical core, each spinning between parallel regions) are fastest on an idle machine but
oversubscribe it as soon as the cores are shared: beside other busy processes, or with
several Dask workers per machine, the spinning threads take the cores the work needs.
``RECSEC_THREAD_POLICY=torch`` keeps torch's defaults (what recsec did before the policy).
"""

from __future__ import annotations

import logging
import os
import sys

log = logging.getLogger("recsec")
_warned_load = False


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
    # The public torch.use_deterministic_algorithms also imports torch._inductor to set its flag:
    # 2.5 s of CPU in every process (a run, its children, each Dask worker), for a compiler recsec
    # never uses. The kernel switch itself is this call.
    switch = getattr(torch._C, "_set_deterministic_algorithms", None)
    if switch is not None and "torch._inductor" not in sys.modules:
        switch(True, warn_only=True)
    else:
        torch.use_deterministic_algorithms(True, warn_only=True)
    # Deterministic mode also fills every torch.empty with NaN by default: a large cost and
    # no help here, since no result reads memory it has not written.
    torch.utils.deterministic.fill_uninitialized_memory = False
    return True


def available_cores() -> int:
    """Logical cores this process may run on (its CPU affinity, e.g. a batch job's allocation)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def physical_cores() -> int:
    """Physical cores of the machine (hyper-threads share one core's arithmetic units)."""
    try:
        import psutil  # a dependency of distributed

        if n := psutil.cpu_count(logical=False):
            return n
    except ImportError:
        pass
    try:
        with open("/proc/cpuinfo") as fh:
            cores, phys = set(), "0"
            for line in fh:
                key, _, value = line.partition(":")
                if key.strip() == "physical id":
                    phys = value.strip()
                elif key.strip() == "core id":
                    cores.add((phys, value.strip()))
            if cores:
                return len(cores)
    except OSError:
        pass
    return max(1, os.cpu_count() or 1)


def default_threads(concurrent: int = 1) -> int:
    """Torch threads for one of ``concurrent`` processes computing at once on this machine."""
    return max(1, min(available_cores(), physical_cores()) // max(1, concurrent))


def thread_env() -> bool:
    """The policy's environment (``OMP_WAIT_POLICY=PASSIVE`` unless the user set one), if torch is not
    imported yet; returns whether the policy applies (``RECSEC_THREAD_POLICY=torch`` turns it off)."""
    if os.environ.get("RECSEC_THREAD_POLICY", "auto") == "torch":
        return False
    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return True


def thread_policy(threads: int = 0, concurrent: int = 1) -> int:
    """Apply the thread policy to this process (see the module docstring); returns its torch threads.

    The wait policy is an environment variable OpenMP reads once, when torch loads it: it takes
    effect only if this runs before ``import torch`` (``recsec run`` and Dask workers do so), and
    child processes inherit it. A value the user set is kept.
    """
    if not thread_env():
        return 0
    n = threads if threads > 0 else default_threads(concurrent)
    import torch

    torch.set_num_threads(n)
    try:
        torch.set_num_interop_threads(1)  # cells use no inter-op parallelism; a pool would only wait
    except RuntimeError:  # already set, or inter-op work already started: torch allows it once
        pass
    warn_if_loaded()
    return n


def warn_if_loaded() -> None:
    """Warn once per process when the machine's load average exceeds the cores available."""
    global _warned_load
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return
    cores = available_cores()
    if load > cores and not _warned_load:
        _warned_load = True
        log.warning("recsec: warning: load average %.1f exceeds the %d cores available: cells will be slower than "
                    "on an idle machine (see --threads)", load, cores)


def package_versions() -> dict[str, str]:
    """Versions of recsec and the libraries its numbers depend on."""
    import platform

    import numpy
    import torch

    from . import __version__

    return {"recsec": __version__, "torch": torch.__version__, "numpy": numpy.__version__, "python": platform.python_version()}


def hardware_info() -> dict[str, object]:
    """What the cell ran on, stored with every result."""
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
