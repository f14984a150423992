"""`copline schema export`: the SDL partners code against, generated from the code."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from service.cli.common import console, fail

app = typer.Typer(help="The GraphQL contract.", no_args_is_help=True)

DEFAULT = Path("schema/schema.graphql")


@app.command("export")
def export(
    out: Annotated[Path | None, typer.Option(help="Write here instead of printing")] = None,
    check: Annotated[
        bool, typer.Option(help="Exit 1 if the file at --out differs from the code's schema")
    ] = False,
) -> None:
    """Print (or write) the schema as SDL."""
    from service.api.schema import sdl

    text = sdl()
    if check:
        target = out or DEFAULT
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            hint = f"run `copline schema export --out {target}`"
            raise fail(f"{target} differs from the served schema: {hint}")
        console.print(f"{target} matches the served schema.")
        return
    if out is None:
        print(text, end="")
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    console.print(f"Wrote {out} ({len(text.splitlines())} lines).")
