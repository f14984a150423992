"""Peak resident memory of a process, as the kernel counts it for that process alone."""

from __future__ import annotations

import os
import resource
from pathlib import Path


def peak_rss_mb(pid: int | None = None) -> float:
    """VmHWM, the high-water mark of the process's own memory. Not `ru_maxrss`: Linux
    carries that across exec, so a worker started by a parent that had built a million
    rows reported the parent's 750 MB as its own peak."""
    status = Path(f"/proc/{pid or os.getpid()}/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    if pid is not None:
        return float("nan")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
