"""GraphiQL works with no internet: the page and everything it loads come from copline."""

from __future__ import annotations

import base64
import hashlib
import re
import tomllib
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import pytest_asyncio

from service.api import ide
from service.config import Settings
from tests.service.api.conftest import make_api

ROOT = Path(__file__).parents[3]
VENDORED = ROOT / "service" / "api" / "graphiql"
HOST = "copline.test"  # make_api's base URL
HTML = {"Accept": "text/html"}


class Links(HTMLParser):
    """Every URL the page makes a browser fetch: (tag, rel, url) per src and href."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        for attr in ("src", "href"):
            if named.get(attr) is not None:
                self.found.append((tag, named.get("rel") or "", str(named[attr])))


def links(page: str) -> list[tuple[str, str, str]]:
    parser = Links()
    parser.feed(page)
    return parser.found


def local_assets(page: str) -> list[tuple[str, str]]:
    """(tag, path) of what the page loads from the app itself (not its data: icon)."""
    return [(tag, url) for tag, _, url in links(page) if not url.startswith("data:")]


def settings(**update: object) -> Settings:
    # The page and its assets touch no database: an in-memory one is never opened.
    return Settings(
        database_url="sqlite:///:memory:", at_simulator=False, _env_file=None
    ).model_copy(update=update)


@pytest_asyncio.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app, client = make_api(settings())
    async with client:
        yield client
    await app.state.services.engine.dispose()


async def page_of(client: httpx.AsyncClient) -> str:
    response = await client.get("/graphql", headers=HTML)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    return response.text


async def test_the_page_names_no_other_host(client: httpx.AsyncClient) -> None:
    page = await page_of(client)
    found = links(page)
    assert {tag for tag, _, _ in found} == {"link", "script"}, found
    for _, _, url in found:
        parts = urlsplit(url)
        assert parts.scheme in ("", "data") and parts.netloc in ("", HOST), url
    # Nor anywhere else on the page (an inline script fetching from a CDN, say).
    assert not re.search(r"https?://|\bsrc=\"//|\bhref=\"//", page)


async def test_every_asset_the_page_loads_is_served_gzipped_typed_and_cached_for_a_year(
    client: httpx.AsyncClient,
) -> None:
    assets = local_assets(await page_of(client))
    assert [url.rsplit("/assets/", 1)[1] for _, url in assets] == [
        a.path for a in (*ide.STYLES, *ide.SCRIPTS)
    ]
    for tag, url in assets:
        response = await client.get(url, headers={"Accept-Encoding": "gzip, br"})
        assert response.status_code == 200, url
        expected = "text/css" if tag == "link" else "text/javascript"
        assert response.headers["content-type"] == f"{expected}; charset=utf-8"
        assert response.headers["content-encoding"] == "gzip"
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert response.headers["vary"] == "Accept-Encoding"
        # httpx has undone the gzip: what the browser gets is the vendored file.
        assert response.content == (VENDORED / url.rsplit("/assets/", 1)[1]).read_bytes()


async def test_scripts_load_in_dependency_order(client: httpx.AsyncClient) -> None:
    scripts = [url for tag, url in local_assets(await page_of(client)) if tag == "script"]
    names = [url.rsplit("/", 1)[1] for url in scripts]
    # GraphiQL's bundle finds React globals; the explorer plugin finds GraphiQL.
    assert names == [
        "react.production.min.js",
        "react-dom.production.min.js",
        "graphiql.min.js",
        "index.umd.js",
    ]


async def test_the_whole_of_graphiql_gzipped_is_about_a_megabyte(
    client: httpx.AsyncClient,
) -> None:
    sent = 0
    for _, url in local_assets(await page_of(client)):
        response = await client.get(url, headers={"Accept-Encoding": "gzip"})
        sent += int(response.headers["content-length"])
    assert sent < 1_200_000  # 4 MB as files; a developer's first visit, then cached


async def test_a_client_without_gzip_gets_the_file_as_it_is(client: httpx.AsyncClient) -> None:
    path = ide.SCRIPTS[0].path
    response = await client.get(
        f"/graphql/assets/{path}", headers={"Accept-Encoding": "gzip;q=0, identity"}
    )
    assert response.status_code == 200 and "content-encoding" not in response.headers
    assert response.content == (VENDORED / path).read_bytes()


@pytest.mark.parametrize(
    "path",
    [
        "graphiql-3.8.3/LICENSE",  # in the folder, but not something the page loads
        "index.html",
        "nothing.js",
        "../view.py",
        "graphiql-3.8.3/../ide.py",
    ],
)
async def test_only_the_listed_assets_are_served(client: httpx.AsyncClient, path: str) -> None:
    assert (await client.get(f"/graphql/assets/{path}")).status_code == 404


async def test_no_assets_are_served_when_graphiql_is_off() -> None:
    app, client = make_api(settings(graphiql=False))
    async with client:
        response = await client.get(f"/graphql/assets/{ide.SCRIPTS[0].path}")
        assert response.status_code == 404
    await app.state.services.engine.dispose()


async def test_behind_a_path_prefix_the_page_points_at_the_prefixed_assets() -> None:
    app, _ = make_api(settings())
    transport = httpx.ASGITransport(app=app, root_path="/copline")
    async with httpx.AsyncClient(transport=transport, base_url=f"http://{HOST}") as client:
        page = (await client.get("/copline/graphql", headers=HTML)).text
        for _, url in local_assets(page):
            assert url.startswith("/copline/graphql/assets/"), url
            assert (await client.get(url)).status_code == 200
    await app.state.services.engine.dispose()


@pytest.mark.parametrize(
    ("header", "gzip"),
    [
        ("gzip, deflate, br", True),
        ("br;q=1.0, gzip;q=0.8, *;q=0.1", True),
        ("*", True),
        ("GZIP", True),
        ("", False),
        ("identity", False),
        ("gzip;q=0", False),
        ("gzip;q=0.0, *", False),  # refused by name: the wildcard does not bring it back
        ("br, *;q=0", False),
        ("gzip;q=nonsense", False),
    ],
)
def test_gzip_is_sent_only_to_clients_that_accept_it(header: str, gzip: bool) -> None:
    assert ide.accepts_gzip(header) is gzip


def test_the_vendored_files_are_the_npm_packages_files_unchanged() -> None:
    # The same hashes as Strawberry's CDN tags: no edit, no line-ending conversion.
    for asset in ide.ASSETS.values():
        digest = hashlib.sha384((VENDORED / asset.path).read_bytes()).digest()
        assert base64.b64encode(digest).decode() == asset.sha384, asset.path


def test_each_asset_url_names_its_package_version_and_its_licence_lies_beside_it() -> None:
    # A year-long cache is safe only if an upgrade changes the URL.
    for asset in ide.ASSETS.values():
        folder, _ = asset.path.split("/", 1)
        assert re.fullmatch(r"[a-z-]+-\d+\.\d+\.\d+", folder), asset.path
        assert (VENDORED / folder / "LICENSE").is_file(), folder


def test_a_wheel_carries_every_vendored_file() -> None:
    # setuptools takes package data by these globs, relative to the package's folder.
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    globs = pyproject["tool"]["setuptools"]["package-data"]["service.api"]
    package = ROOT / "service" / "api"
    carried = {path for pattern in globs for path in package.glob(pattern) if path.is_file()}
    assert carried == {path for path in VENDORED.rglob("*") if path.is_file()}
