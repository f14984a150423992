"""The console's page list (tests/browser/pages.py) and bench/console.py's arithmetic."""

from __future__ import annotations

import pytest

from bench.console import Transfers, p50_p95, verdict
from tests.browser.pages import (
    DEMO_VIEWERS,
    PAGES,
    ConsolePage,
    Follow,
    NotFoundOnPage,
    Visit,
    by_name,
    first_link,
    measured_pages,
    resolve,
)


def test_every_page_is_listed_once_and_every_link_to_follow_starts_on_a_listed_page() -> None:
    names = [entry.name for entry in PAGES]
    assert len(names) == len(set(names))
    for entry in PAGES:
        if entry.role is not None:
            assert entry.role in DEMO_VIEWERS
        if isinstance(entry.path, Follow):
            source = by_name(entry.path.page)
            # A ready page cannot hang on one still being built.
            assert source.ready or not entry.ready, entry.name
            assert source.visit is Visit.signed_in
    paths = [entry.path for entry in PAGES if isinstance(entry.path, str)]
    assert len(paths) == len(set(paths))


def test_the_bench_weighs_the_ready_pages_a_person_comes_to() -> None:
    measured = measured_pages()
    assert {e.name for e in measured} >= {"sign-in", "sign-in code", "overview"}
    assert all(e.ready and e.status == 200 for e in measured)


def test_the_first_link_whose_path_matches_entirely_is_taken() -> None:
    page = """<nav><a href="/communities">All</a></nav>
      <a class="x" href="https://elsewhere.example/communities/9">off-site</a>
      <a href='/communities/12/edit'>edit</a>
      <a data-x="1" href="/communities/12?tab=members&amp;p=2#top">Cluster 12</a>
      <a href="/communities/13">Cluster 13</a>"""
    assert first_link(page, r"/communities/\d+") == "/communities/12"
    assert first_link(page, r"/communities/\d+/edit") == "/communities/12/edit"
    assert first_link(page, r"/meetings/\d+") is None


def test_a_path_is_resolved_through_the_pages_it_is_linked_from() -> None:
    site = {
        "/communities": '<a href="/communities/4">C4</a>',
        "/communities/4": '<a href="/meetings/8">next</a> <a href="/meetings/8/register">fill</a>',
    }
    asked: list[str] = []

    def fetch(path: str) -> str:
        asked.append(path)
        return site[path]

    meeting = ConsolePage("m", Follow("community", r"/meetings/\d+"))
    assert resolve(meeting, fetch) == "/meetings/8"
    assert asked == ["/communities", "/communities/4"]
    assert resolve(by_name("overview"), fetch) == "/"
    with pytest.raises(NotFoundOnPage, match="survey"):
        resolve(by_name("survey"), lambda path: "<p>No surveys yet.</p>")


def test_percentiles_and_verdicts() -> None:
    p50, p95 = p50_p95([float(n) for n in range(1, 101)])
    assert p50 == 50.5
    assert 95 <= p95 <= 96
    assert verdict(250, 250) == "met"
    assert verdict(250.1, 250) == "NOT met"


def test_only_what_came_over_the_wire_counts() -> None:
    seen = Transfers()
    for rid, url, size in [("1", "http://x/", 1400), ("2", "http://x/a.css", 2400)]:
        seen.sent({"requestId": rid, "request": {"url": url}})
        seen.finished({"requestId": rid, "encodedDataLength": size})
    seen.sent({"requestId": "3", "request": {"url": "http://x/b.js"}})
    seen.from_cache({"requestId": "3"})
    seen.finished({"requestId": "3", "encodedDataLength": 0})
    assert seen.total() == 3800
    assert seen.by_url() == [("http://x/", 1400), ("http://x/a.css", 2400)]
