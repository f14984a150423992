"""`copline at-sim`: the Africa's Talking simulator as a process of its own."""

from __future__ import annotations

from typing import Annotated

import typer


def at_sim(
    host: Annotated[str, typer.Option(help="Bind address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (COPLINE_AT_BASE_URL points here)")] = 8790,
    service_url: Annotated[
        str, typer.Option(help="Where copline serves; callbacks go to its /at/{token}/…")
    ] = "http://127.0.0.1:8000",
    delivery_delay: Annotated[
        float, typer.Option(min=0, help="Seconds from accepted to delivery report")
    ] = 1.0,
    failure_share: Annotated[
        float, typer.Option(min=0, max=1, help="Share of delivery reports that say Failed")
    ] = 0.0,
    seed: Annotated[int | None, typer.Option(help="Seed for reproducible failures")] = None,
    api_key: Annotated[
        str | None,
        typer.Option(help="The key to expect (default: COPLINE_AT_API_KEY, else simulator)"),
    ] = None,
) -> None:
    """Stand in for Africa's Talking: its SMS API, delivery reports, and test phones."""
    import uvicorn

    from service.cli.common import settings
    from service.logging import configure_logging
    from sms.simulator import SimulatorConfig, create_simulator_app
    from sms.simulator.config import DEFAULT_API_KEY

    config = settings()
    configure_logging(config)
    app = create_simulator_app(
        SimulatorConfig(
            service_url=service_url,
            callback_token=config.callback_token.get_secret_value(),
            delivery_delay_s=delivery_delay,
            failure_share=failure_share,
            seed=seed,
            api_key=api_key
            or (config.at_api_key.get_secret_value() if config.at_api_key else DEFAULT_API_KEY),
        )
    )
    typer.echo(f"Both phones in the browser: http://{host}:{port}/sim/phones/")
    uvicorn.run(app, host=host, port=port, log_level=config.log_level.lower(), access_log=False)
