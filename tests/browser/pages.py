"""Every page of the console, in one list: what the accessibility test checks and
`bench/console.py` measures.

An entry says where the page is (a path, or a link to follow from another listed page:
"the first community on /communities"), who looks at it (a console role: the demo
person of that role in rw-sbi for the tests, bench's own person for the bench) and
whether it is `ready`. Pages still being built are listed with `ready=False` and are
skipped; whoever lands a page flips its flag, and from then on it must pass (a ready
page that fails, answers an error or cannot be found fails the run; nothing is skipped
quietly).

Pure data and string helpers: no browser, no database, so the bench imports it too.
"""

from __future__ import annotations

import html
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from urllib.parse import urlsplit

from service.models.enums import ConsoleRole


class Visit(Enum):
    anonymous = "anonymous"  # not signed in
    code_asked = "code_asked"  # not signed in, after asking for a code on /sign-in
    signed_in = "signed_in"  # signed in as the entry's role


@dataclass(frozen=True)
class Follow:
    """A path found on another listed page (read by the same person): the first link
    there whose path (without query or fragment) matches `link` entirely."""

    page: str
    link: str


@dataclass(frozen=True)
class ConsolePage:
    name: str
    path: str | Follow
    role: ConsoleRole | None = ConsoleRole.programme_admin
    visit: Visit = Visit.signed_in
    ready: bool = False
    status: int = 200  # what the page answers (the refusal pages say no on purpose)

    def __post_init__(self) -> None:
        assert (self.role is None) == (self.visit is not Visit.signed_in), self.name


ADMIN = ConsoleRole.programme_admin
FACILITATOR = ConsoleRole.facilitator

PAGES: list[ConsolePage] = [
    ConsolePage("sign-in", "/sign-in", role=None, visit=Visit.anonymous, ready=True),
    ConsolePage("sign-in code", "/sign-in/code", role=None, visit=Visit.code_asked, ready=True),
    ConsolePage("overview", "/", ready=True),
    ConsolePage("communities", "/communities", ready=True),
    ConsolePage(
        "community", Follow("communities", r"/communities/\d+"), role=FACILITATOR, ready=True
    ),
    ConsolePage(
        "add a member", Follow("community", r"/communities/\d+/add"), role=FACILITATOR, ready=True
    ),
    ConsolePage(
        "schedule a term",
        Follow("community", r"/communities/\d+/schedule"),
        role=FACILITATOR,
        ready=True,
    ),
    ConsolePage("meeting", Follow("community", r"/meetings/\d+"), role=FACILITATOR, ready=True),
    ConsolePage("registers", "/register", role=FACILITATOR, ready=True),
    ConsolePage(
        "meeting register",
        Follow("registers", r"/meetings/\d+/register"),
        role=FACILITATOR,
        ready=True,
    ),
    ConsolePage("people", "/people", ready=True),
    ConsolePage("person", Follow("people", r"/people/\d+"), ready=True),
    ConsolePage("roster import", "/people/import", ready=True),
    ConsolePage("messages", "/messages", ready=True),
    ConsolePage("new message", "/messages/new", ready=True),
    ConsolePage("surveys", "/surveys", ready=True),
    ConsolePage("survey", Follow("surveys", r"/surveys/\d+"), ready=True),
    ConsolePage("exports", "/exports", ready=True),
    ConsolePage("webhooks", "/webhooks", ready=True),
    # The page every refusal shows (404 here; 400, 403 and 429 are the same template).
    ConsolePage(
        "not found", "/no-such-page", role=None, visit=Visit.anonymous, status=404, ready=True
    ),
]

# Who looks at each page in the demo (`copline seed-demo`, programme rw-sbi).
DEMO_VIEWERS: dict[ConsoleRole, str] = {
    ConsoleRole.programme_admin: "+250788300001",  # Jeanne Uwase (en)
    ConsoleRole.programme_staff: "+250788300002",  # Eric Mugisha (en)
    ConsoleRole.school_leader: "+250788300003",  # Claudine Ingabire, RW-BUG-001 (rw)
    ConsoleRole.facilitator: "+250788200001",  # Alice Mukeshimana, RW-BUG-001-MATH (rw)
}
# A valid number nobody has: asking a code for it shows the same page, sends nothing.
UNKNOWN_PHONE = "+250788399999"


def by_name(name: str) -> ConsolePage:
    for entry in PAGES:
        if entry.name == name:
            return entry
    raise KeyError(name)


def ready_pages() -> list[ConsolePage]:
    return [entry for entry in PAGES if entry.ready]


def measured_pages() -> list[ConsolePage]:
    """The ready pages a person comes to on purpose (not the refusals): what bench weighs."""
    return [entry for entry in PAGES if entry.ready and entry.status == 200]


HREF = re.compile(r"""<a\b[^>]*?\bhref\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)


def first_link(page_html: str, pattern: str) -> str | None:
    """The first same-site link in `page_html` whose path matches `pattern` entirely."""
    wanted = re.compile(pattern)
    for found in HREF.finditer(page_html):
        parts = urlsplit(html.unescape(found.group(1) or found.group(2) or ""))
        if parts.scheme or parts.netloc:
            continue
        if wanted.fullmatch(parts.path):
            return parts.path
    return None


class NotFoundOnPage(LookupError):
    pass


def _step(entry: ConsolePage, source_path: str, source_html: str) -> str:
    assert isinstance(entry.path, Follow)
    found = first_link(source_html, entry.path.link)
    if found is None:
        raise NotFoundOnPage(
            f"{entry.name}: no link matching {entry.path.link!r} on {source_path} "
            f"({entry.path.page})"
        )
    return found


def resolve(entry: ConsolePage, fetch: Callable[[str], str]) -> str:
    """The entry's path; `fetch(path)` returns a page's HTML as the entry's viewer."""
    if isinstance(entry.path, str):
        return entry.path
    source = resolve(by_name(entry.path.page), fetch)
    return _step(entry, source, fetch(source))


async def resolve_async(entry: ConsolePage, fetch: Callable[[str], Awaitable[str]]) -> str:
    """`resolve` with an async `fetch`."""
    if isinstance(entry.path, str):
        return entry.path
    source = await resolve_async(by_name(entry.path.page), fetch)
    return _step(entry, source, await fetch(source))
