"""`python -m bench [name ...]`: run every benchmark in turn, or the ones named
(roster_import, graphql_dashboard, reports, console, metrics_cost, sms_fanout,
ussd_load; the last two need `wrk`, console needs chromium)."""

import asyncio
import shutil
import sys
from collections.abc import Callable

from bench import (
    console,
    graphql_dashboard,
    metrics_cost,
    reports,
    roster_import,
    sms_fanout,
    ussd_load,
)

IN_PROCESS: dict[str, Callable[[], object]] = {
    "roster_import": lambda: asyncio.run(roster_import.main()),
    "graphql_dashboard": lambda: asyncio.run(graphql_dashboard.main()),
    "reports": lambda: asyncio.run(reports.main()),
    "console": lambda: asyncio.run(console.main()),
    "metrics_cost": metrics_cost.main,
}
WITH_WRK: dict[str, Callable[[], object]] = {
    "sms_fanout": sms_fanout.main,
    "ussd_load": lambda: asyncio.run(ussd_load.main()),
}


def run(names: list[str]) -> None:
    unknown = [n for n in names if n not in IN_PROCESS | WITH_WRK]
    if unknown:
        sys.exit(
            f"unknown benchmark {', '.join(unknown)}: pick from {', '.join(IN_PROCESS | WITH_WRK)}"
        )
    chosen = names or list(IN_PROCESS | WITH_WRK)
    for i, name in enumerate(chosen):
        if i:
            print()
        if name in WITH_WRK and shutil.which("wrk") is None:
            print(f"bench/{name}.py needs wrk: apt-get install wrk")
            continue
        (IN_PROCESS | WITH_WRK)[name]()


if __name__ == "__main__":
    run(sys.argv[1:])
