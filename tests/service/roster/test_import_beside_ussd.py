"""An import run by `copline import` leaves room for everyone else: on the embedded SQLite
set-up one writer at a time holds the database, so an import must write in short turns."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import httpx
from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.config import Settings
from service.models import Person
from tests import factories as f
from ussd_menus.phone import Phone

TOKEN = "dev-callback-token"
ROWS = 3000


def roster(folder: Path, school: str, community: str) -> Path:
    path = folder / "people.csv"
    lines = ["name,phone,language,school,roles,communities"] + [
        f"Teacher {i},0733{i:06d},sw,{school},teacher,{community}" for i in range(ROWS)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def people(session: AsyncSession) -> int:
    await session.rollback()  # a fresh snapshot: count what the import has committed so far
    return (await session.exec(select(func.count()).select_from(Person))).one()


async def test_ussd_hops_and_readyz_keep_answering_while_copline_import_writes_people(
    settings: Settings, session: AsyncSession, client: httpx.AsyncClient, workdir: Path
) -> None:
    w = await f.world(session)
    number, slug, code = w.members[0].phone, w.programme.slug, w.programme.service_code
    assert number is not None
    path = roster(workdir, w.school.code, w.community.code)
    before = await people(session)
    env = os.environ | {"COPLINE_DATABASE_URL": settings.database_url}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "service.cli.main", "import", "people", str(path),
        "--programme", slug,
        cwd=workdir, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    finished = asyncio.ensure_future(process.communicate())
    replies: list[str] = []
    ready: list[int] = []
    part_way = 0  # hops answered while some, not all, of the file was written
    while not finished.done():
        phone = Phone(client, number=number, service_code=code, token=TOKEN)
        await phone.dial()
        replies.append(phone.reply)
        ready.append((await client.get("/readyz")).status_code)
        if before < await people(session) < before + ROWS:
            part_way += 1
        await asyncio.sleep(0.02)
    out, err = await finished
    assert process.returncode == 0, err.decode()
    assert f"{ROWS} row(s) — {ROWS} created" in out.decode()
    assert await people(session) == before + ROWS
    outages = [r for r in replies if not r.startswith("CON ")]
    assert outages == [], f"{len(outages)} of {len(replies)} hops failed: {outages[:1]}"
    assert set(ready) == {200}, f"readyz answered {sorted(set(ready))}"
    assert part_way >= 1, "hops should have been answered between chunks of the import"
