"""GraphiQL served whole by copline: the page and every script and stylesheet it loads.

Strawberry's own page loads React and GraphiQL from a CDN, so with no internet (a
training room, a field office) it says "Loading..." for ever. The files are vendored,
unchanged, in `graphiql/` (package data, each package's licence beside its files) and
served from `ASSETS_PATH`, gzipped, cached by browsers for a year: each file's URL
names its package and version, so an upgrade is a new URL and never a stale file.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from functools import cache
from html import escape
from importlib import resources
from importlib.resources.abc import Traversable

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

ASSETS_PATH = "/graphql/assets"
ROUTE_NAME = "graphiql_asset"
# The URL changes with the file (it names the version), so the file never does.
IMMUTABLE = "public, max-age=31536000, immutable"
JS = "text/javascript; charset=utf-8"
CSS = "text/css; charset=utf-8"


@dataclass(frozen=True)
class Asset:
    path: str  # under graphiql/, and the URL under ASSETS_PATH
    media_type: str
    # Of the file as its npm package ships it: the hash Strawberry's CDN tags pin.
    sha384: str


STYLES = (
    Asset(
        "graphiql-3.8.3/graphiql.min.css",
        CSS,
        "Mq3vbRBY71jfjQAt/DcjxUIYY33ksal4cgdRt9U/hNPvHBCaT2JfJ/PTRiPKf0aM",
    ),
    Asset(
        "graphiql-plugin-explorer-1.0.2/style.css",
        CSS,
        "5DFJlDPW2tSATRbM8kzoP1j194jexLswuNmClWoRr2Q0x7R68JIQzPHZ02Faktwi",
    ),
)
# In the order the page must load them: GraphiQL's bundle finds React and ReactDOM as
# globals, and the explorer plugin finds GraphiQL.
SCRIPTS = (
    Asset(
        "react-18.2.0/react.production.min.js",
        JS,
        "tMH8h3BGESGckSAVGZ82T9n90ztNXxvdwvdM6UoR56cYcf+0iGXBliJ29D+wZ/x8",
    ),
    Asset(
        "react-dom-18.2.0/react-dom.production.min.js",
        JS,
        "bm7MnzvK++ykSwVJ2tynSE5TRdN+xL418osEVF2DE/L/gfWHj91J2Sphe582B1Bh",
    ),
    Asset(
        "graphiql-3.8.3/graphiql.min.js",
        JS,
        "HbRVEFG0JGJZeAHCJ9Xm2+tpknBQ7QZmNlO/DgZtkZ0aJSypT96YYGRNod99l9Ie",
    ),
    Asset(
        "graphiql-plugin-explorer-1.0.2/index.umd.js",
        JS,
        "2oonKe47vfHIZnmB6ZZ10vl7T0Y+qrHQF2cmNTaFDuPshpKqpUMGMc9jgj9MLDZ9",
    ),
)
# Only these are served (a lookup, never a path on disk): not the licences, not the page.
ASSETS = {asset.path: asset for asset in (*STYLES, *SCRIPTS)}


def vendored() -> Traversable:
    return resources.files("service.api").joinpath("graphiql")


@cache
def _template() -> str:
    return vendored().joinpath("index.html").read_text(encoding="utf-8")


def graphiql_page(request: Request) -> HTMLResponse:
    """The GraphiQL page, its tags pointing at this app (behind any `root_path`)."""

    def tag_url(asset: Asset) -> str:
        return escape(request.url_for(ROUTE_NAME, path=asset.path).path)

    styles = "\n".join(f'    <link rel="stylesheet" href="{tag_url(a)}" />' for a in STYLES)
    scripts = "\n".join(f'    <script src="{tag_url(a)}"></script>' for a in SCRIPTS)
    page = _template().replace("{{styles}}", styles).replace("{{scripts}}", scripts)
    # Small, and it names the assets' current URLs: asked for afresh after an upgrade.
    return HTMLResponse(page, headers={"Cache-Control": "no-cache"})


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an `Accept-Encoding` header allows gzip (`gzip;q=0` refuses it, `*` allows it)."""
    weights: dict[str, float] = {}
    for part in accept_encoding.lower().split(","):
        coding, *params = (piece.strip() for piece in part.split(";"))
        weight = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        weights[coding] = weight
    return weights.get("gzip", weights.get("*", 0.0)) > 0


@dataclass(frozen=True)
class Content:
    raw: bytes
    gzipped: bytes


def _load(asset: Asset) -> Content:
    raw = vendored().joinpath(asset.path).read_bytes()
    # mtime=0: the same bytes from every instance and every start.
    return Content(raw, gzip.compress(raw, compresslevel=9, mtime=0))


class GraphiQLAssets:
    """Answers `ASSETS_PATH/{path}`. Each file is read and gzipped on its first request:
    only developers open GraphiQL, so a process that never serves it holds none of it."""

    def __init__(self) -> None:
        self._contents: dict[str, Content] = {}

    async def _content(self, asset: Asset) -> Content:
        content = self._contents.get(asset.path)
        if content is None:
            # Gzipping the 3.5 MB GraphiQL bundle takes a few hundred ms: not on the loop.
            # Two first requests at once both compress it; the result is the same.
            content = await anyio.to_thread.run_sync(_load, asset)
            self._contents[asset.path] = content
        return content

    async def serve(self, request: Request) -> Response:
        asset = ASSETS.get(request.path_params["path"])
        if asset is None:
            return PlainTextResponse("Not Found", status_code=404)
        content = await self._content(asset)
        headers = {"Cache-Control": IMMUTABLE, "Vary": "Accept-Encoding"}
        if accepts_gzip(request.headers.get("accept-encoding", "")):
            headers["Content-Encoding"] = "gzip"
            return Response(content.gzipped, media_type=asset.media_type, headers=headers)
        return Response(content.raw, media_type=asset.media_type, headers=headers)


def routes() -> list[Route]:
    """The assets' route, for an app that serves GraphiQL (the page itself is /graphql's)."""
    assets = GraphiQLAssets()
    return [Route(f"{ASSETS_PATH}/{{path:path}}", assets.serve, methods=["GET"], name=ROUTE_NAME)]
