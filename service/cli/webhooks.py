"""`copline webhook add|list|remove|resend|deliveries|rotate-secret|enable|disable`."""

from __future__ import annotations

from typing import Annotated

import typer

from service.cli.common import console, errors, operator, run, unit_of_work
from service.domain import webhooks
from service.domain.programmes import get_programme
from service.models.enums import DeliveryStatus

app = typer.Typer(help="Webhook endpoints: signed events to partner systems.", no_args_is_help=True)

Programme = Annotated[str, typer.Option(help="Programme slug")]


def _events(text: str) -> list[str]:
    wanted = [e.strip() for e in text.split(",") if e.strip()]
    return list(webhooks.EVENTS) if wanted == ["all"] else wanted


@app.command("add")
def add(
    programme: Programme,
    url: Annotated[str, typer.Option(help="http:// or https:// URL of the endpoint")],
    events: Annotated[
        str, typer.Option(help=f"Comma-separated, or all: {', '.join(webhooks.EVENTS)}")
    ] = "all",
    pii: Annotated[
        bool, typer.Option("--pii/--no-pii", help="Send whole phone numbers and texts")
    ] = False,
    description: Annotated[str, typer.Option(help="What the endpoint is")] = "",
) -> None:
    """Register an endpoint. Its signing secret is printed once: give it to the receiver."""

    async def work() -> None:
        async with unit_of_work() as session:
            prog = await get_programme(session, programme)
            assert prog.id is not None
            endpoint = await webhooks.create_endpoint(
                prog.id, url, _events(events), pii=pii, description=description,
                session=session, actor=operator(),
            )  # fmt: skip
            await session.commit()
        errors.print(
            f"Webhook endpoint {endpoint.id} for {prog.slug}: {endpoint.url} "
            f"({', '.join(endpoint.events)}). Its signing secret is shown only now:",
            highlight=False,
        )
        print(endpoint.secret)

    run(work)


@app.command("list")
def list_(programme: Programme) -> None:
    """A programme's endpoints (never their secrets): id, URL, events, PII, state."""

    async def work() -> None:
        async with unit_of_work() as session:
            prog = await get_programme(session, programme)
            assert prog.id is not None
            endpoints = await webhooks.list_endpoints(session, prog.id)
        for e in endpoints:
            state = "enabled" if e.enabled else "disabled"
            pii_right = "pii" if e.pii else "masked"
            print("\t".join([str(e.id), e.url, ",".join(e.events), pii_right, state]))

    run(work)


def _set_enabled(programme: str, endpoint_id: int, enabled: bool) -> None:
    async def work() -> None:
        async with unit_of_work() as session:
            prog = await get_programme(session, programme)
            assert prog.id is not None
            await webhooks.update_endpoint(
                prog.id, endpoint_id, enabled=enabled, session=session, actor=operator()
            )
            await session.commit()
        console.print(f"{'Enabled' if enabled else 'Disabled'} webhook endpoint {endpoint_id}.")

    run(work)


@app.command("enable")
def enable(
    endpoint_id: Annotated[int, typer.Argument(help="The endpoint's id")], programme: Programme
) -> None:
    """Send to the endpoint again (what it was owed waits for it)."""
    _set_enabled(programme, endpoint_id, True)


@app.command("disable")
def disable(
    endpoint_id: Annotated[int, typer.Argument(help="The endpoint's id")], programme: Programme
) -> None:
    """Stop sending to the endpoint; it is owed no new events while disabled."""
    _set_enabled(programme, endpoint_id, False)


@app.command("remove")
def remove(
    endpoint_id: Annotated[int, typer.Argument(help="The endpoint's id (`copline webhook list`)")],
    programme: Programme,
) -> None:
    """Remove an endpoint and what it was still owed."""

    async def work() -> None:
        async with unit_of_work() as session:
            prog = await get_programme(session, programme)
            assert prog.id is not None
            await webhooks.delete_endpoint(prog.id, endpoint_id, session=session, actor=operator())
            await session.commit()
        console.print(f"Removed webhook endpoint {endpoint_id}.")

    run(work)


@app.command("rotate-secret")
def rotate_secret(
    endpoint_id: Annotated[int, typer.Argument(help="The endpoint's id")], programme: Programme
) -> None:
    """A new signing secret, used from now on; printed once."""

    async def work() -> None:
        async with unit_of_work() as session:
            prog = await get_programme(session, programme)
            assert prog.id is not None
            endpoint = await webhooks.rotate_secret(
                prog.id, endpoint_id, session=session, actor=operator()
            )
            await session.commit()
        errors.print(f"New signing secret of webhook endpoint {endpoint_id}, shown only now:")
        print(endpoint.secret)

    run(work)


@app.command("deliveries")
def deliveries(
    programme: Programme,
    endpoint: Annotated[int | None, typer.Option(help="Only this endpoint's")] = None,
    status: Annotated[DeliveryStatus | None, typer.Option(help="Only these")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
) -> None:
    """Recent deliveries, newest first: id, created, event, subject, status, attempts, last
    answer."""

    async def work() -> None:
        async with unit_of_work() as session:
            prog = await get_programme(session, programme)
            assert prog.id is not None
            rows = await webhooks.recent_deliveries(
                session, prog.id, endpoint_id=endpoint, status=status, limit=limit
            )
        for d in rows:
            last = d.last_error or (str(d.last_status_code) if d.last_status_code else "-")
            print("\t".join([
                str(d.id), f"{d.created_at:%Y-%m-%d %H:%M:%S}Z", d.event, d.subject,
                d.status.value, str(d.attempts), last,
            ]))  # fmt: skip

    run(work)


@app.command("resend")
def resend(
    delivery_id: Annotated[int, typer.Argument(help="The delivery's id (`webhook deliveries`)")],
    programme: Programme,
) -> None:
    """Send a delivery again now: the same body and webhook-id."""

    async def work() -> None:
        async with unit_of_work() as session:
            prog = await get_programme(session, programme)
            assert prog.id is not None
            await webhooks.resend(prog.id, delivery_id, session=session, actor=operator())
            await session.commit()
        console.print(f"Delivery {delivery_id} goes again at the worker's next pass.")

    run(work)
