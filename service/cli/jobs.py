"""`copline jobs`: each periodic job's last run, whichever worker ran it."""

from __future__ import annotations

from rich.table import Table

from service.cli.common import console, run, unit_of_work
from service.domain.job_runs import job_states


def jobs() -> None:
    """Show each worker job's last run: when, how long, its outcome and by whom."""

    async def work() -> None:
        async with unit_of_work() as session:
            states = await job_states(session)
        if not states:
            console.print("No job has run yet: start `copline worker` (or `copline serve`).")
            return
        table = Table(box=None, pad_edge=False)
        for heading in ("job", "started (UTC)", "took", "outcome", "did", "runs", "failed"):
            table.add_column(heading, no_wrap=True)
        table.add_column("worker", overflow="fold")
        for s in states:
            table.add_row(
                s.name,
                s.started_at.strftime("%Y-%m-%d %H:%M") if s.started_at else "never",
                f"{s.duration_ms} ms" if s.duration_ms is not None else "",
                s.outcome or "",
                str(s.count) if s.count is not None else "",
                str(s.runs),
                str(s.failures),
                s.worker or "",
            )
        console.print(table)
        for s in states:
            if s.outcome == "failed" and s.error:
                console.print(f"{s.name}: {s.error}", highlight=False)

    run(work)
