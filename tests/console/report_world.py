"""A programme to read reports of in the console: `tests.service.domain.test_reports`'s
two CoPs (figures worked out there by hand), with a programme admin, a programme
staff member and a facilitator of Alpha only, each with console access."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from service.db import SessionFactory
from service.domain.communities import add_member
from service.models import Person
from service.models.enums import ConsoleRole, Language, MembershipRole, Role
from tests import factories as f
from tests.console.support import grant
from tests.service.domain.test_reports import Built, build

ROW = re.compile(r'<tr><th scope="row">([^<]*)</th>((?:<td[^>]*>[^<]*</td>)+)</tr>')
CELL = re.compile(r"<td[^>]*>([^<]*)</td>")


@dataclass
class Setting:
    built: Built
    admin: Person
    staff: Person
    coach: Person  # facilitates Alpha only

    @property
    def term(self) -> str:
        return f"/?term={self.built.term_id}"


async def make_setting(sessions: SessionFactory) -> Setting:
    async with sessions() as session:
        b = await build(session)
        prog = b.programme
        assert prog.id is not None and b.alpha.id is not None
        admin = await f.person(
            session,
            prog,
            name="Officer Wanjiku",
            roles=[Role.programme_staff],
            language=Language.en,
        )
        staff = await f.person(
            session, prog, name="Analyst Otieno", roles=[Role.programme_staff], language=Language.en
        )
        coach = await f.person(
            session, prog, name="Coach Achieng", roles=[Role.coach], language=Language.en
        )
        assert coach.id is not None
        await add_member(
            prog.id,
            b.alpha.id,
            coach.id,
            role=MembershipRole.facilitator,
            session=session,
            actor=f.OPERATOR,
            now=f.now(),
        )
        await session.commit()
    await grant(sessions, admin, ConsoleRole.programme_admin)
    await grant(sessions, staff, ConsoleRole.programme_staff)
    await grant(sessions, coach, ConsoleRole.facilitator)
    return Setting(b, admin, staff, coach)


def table(page: str, caption: str) -> dict[str, list[str]]:
    """The rows of the table with this caption: row heading → cells."""
    start = page.index(f"<caption>{html.escape(caption)}</caption>")
    end = page.index("</table>", start)
    return {
        html.unescape(head): [html.unescape(c) for c in CELL.findall(cells)]
        for head, cells in ROW.findall(page[start:end])
    }
