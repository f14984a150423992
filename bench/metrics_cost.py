"""What the metrics add to a USSD hop, in microseconds of CPU.

A hop counts itself (outcome, screen), observes its time, and the access log observes
the request's time and counts its status class. With `copline serve --workers N` every
one of those writes to a memory-mapped file (prometheus_client's multiprocess mode),
so both modes are timed, each in a fresh process (the mode is chosen at import).
`bench/ussd_load.py` prints a hop's whole web CPU beside (about 0.7-1 ms on a 2-core
machine): the ratio is the metrics' share of it.

    python -m bench.metrics_cost [--hops 200000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

CHILD = """
import time
from service.access_log import observe
from service.metrics import hop_answered

scope = {"type": "http"}
n = %d
for _ in range(1000):  # labelled children made, files grown
    hop_answered("continued", "home", 0.004)
    observe(scope, "/at/{token}/ussd", 200, 0.005)
started = time.process_time()
for _ in range(n):
    t = time.perf_counter()
    hop_answered("continued", "home", time.perf_counter() - t)
    observe(scope, "/at/{token}/ussd", 200, time.perf_counter() - t)
print((time.process_time() - started) / n * 1e6)
"""


def cost(hops: int, folder: str | None) -> float:
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    if folder is not None:
        env["PROMETHEUS_MULTIPROC_DIR"] = folder
    out = subprocess.run(
        [sys.executable, "-c", CHILD % hops], env=env, capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip())


def main(hops: int = 200_000) -> None:
    with tempfile.TemporaryDirectory() as folder:
        single = cost(hops, None)
        multi = cost(hops, folder)
    print(f"Metrics per USSD hop ({hops:,} hops timed), CPU:")
    print(f"  one process:                  {single:6.1f} us")
    print(f"  several (multiprocess files): {multi:6.1f} us")
    print(f"  share of a 0.7 ms hop: {single / 7:.2f}% / {multi / 7:.2f}% (goal: under 2%)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hops", type=int, default=200_000)
    main(parser.parse_args().hops)
