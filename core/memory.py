"""Peak memory of one phase of a cell (a victim's training), on the CPU and on a CUDA device.

The CPU figure is the process's resident-set high-water mark (``VmHWM``), reset before the
phase through ``/proc/self/clear_refs`` (Linux). It includes what the process already held
(the dataset, a loaded model), so it compares cells of one spec, not machines. The CUDA
figure is ``torch.cuda.max_memory_allocated`` over the phase.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:  # pragma: no cover
    import torch

_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATUS = Path("/proc/self/status")


def _reset_rss_peak() -> bool:
    """Reset the resident-set high-water mark; False where the kernel offers no way to."""
    try:
        _CLEAR_REFS.write_text("5")
        return True
    except OSError:
        return False


def rss_peak_mb() -> float | None:
    """The process's resident-set high-water mark in MiB, or None off Linux."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0  # reported in kB
    except OSError:
        pass
    return None


@contextmanager
def peak_memory(device: "torch.device") -> Iterator[dict[str, float]]:
    """Fill the yielded dict, when the block ends, with ``peak_rss_mb`` and (on CUDA) ``peak_cuda_mb``."""
    import torch

    device = torch.device(device)
    out: dict[str, float] = {}
    rss = _reset_rss_peak()
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    try:
        yield out
    finally:
        peak = rss_peak_mb() if rss else None
        if peak is not None:
            out["peak_rss_mb"] = peak
        if cuda:
            out["peak_cuda_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
