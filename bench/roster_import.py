"""Roster import of 50,000 teachers, against a bulk INSERT of the same rows, on both stores.

The import does what an operator needs: it checks every row first (the domain's rules,
phone normalisation, codes looked up in bulk) and writes nothing if a row is bad; then it
writes in chunks, each its own transaction, with memberships and one audit entry per
change. The baseline writes the same people with a single executemany INSERT: the floor
cost of storing those rows on that engine. Also measured: how long a file whose last row is
bad takes to be refused (nothing is written), and the longest a chunk held the database.

    python -m bench.roster_import [--people 50000] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert

from service import migrate
from service.config import Settings
from service.db import build_engine, build_session_factory
from service.domain.actor import Actor
from service.domain.programmes import ProgrammeCreate, create_programme
from service.models import Person
from service.models.types import utcnow
from service.roster import ImportKind, Phase, import_csv, read_csv
from service.roster.importer import SQLITE_PAUSE_S

ACTOR = Actor.cli("bench")
SCHOOLS, COMMUNITIES = 250, 250
BAD_LAST_ROW = "Zawadi Were,0799999999,sw,NOPE-99,teacher,Mathematics,female,C0001"


def write_roster(folder: Path, people: int) -> dict[ImportKind, Path]:
    schools = ["code,name,district,sector"] + [
        f"S{i:04d},Bench Primary School {i},County {i % 47},Ward {i % 300}" for i in range(SCHOOLS)
    ]
    communities = ["code,name,kind,subjects,schools"] + [
        f"C{i:04d},Bench Cluster {i},cluster,Mathematics;English,S{i:04d};S{(i + 1) % SCHOOLS:04d}"
        for i in range(COMMUNITIES)
    ]
    rows = ["name,phone,language,school,roles,subjects,gender,communities"] + [
        f"Teacher {i},0711{i:06d},sw,S{i % SCHOOLS:04d},teacher,Mathematics,"
        f"{'female' if i % 2 else 'male'},C{i % COMMUNITIES:04d}"
        for i in range(people)
    ]
    paths = {}
    for kind, lines in (
        (ImportKind.schools, schools),
        (ImportKind.communities, communities),
        (ImportKind.people, rows),
    ):
        paths[kind] = folder / f"{kind}.csv"
        paths[kind].write_text("\n".join(lines) + "\n", encoding="utf-8")
    return paths


async def database(backend: str, folder: Path) -> str:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{folder}/bench.db"
    from tests.databases import fresh_postgres_database

    return await fresh_postgres_database("copline_bench")


class Chunks:
    """The longest time between two chunks written: a chunk's transaction (and on SQLite
    the pause after it), i.e. about the longest anyone waited for the database."""

    def __init__(self) -> None:
        self.last = 0.0
        self.longest = 0.0

    def __call__(self, phase: Phase, _done: int, _total: int) -> None:
        now = time.perf_counter()
        if phase is Phase.writing:
            self.longest = max(self.longest, now - self.last)
        self.last = now


async def run(backend: str, people: int, folder: Path) -> dict[str, float]:
    url = await database(backend, folder)
    engine = build_engine(Settings(database_url=url, _env_file=None))
    await migrate.upgrade(engine)
    sessions = build_session_factory(engine)
    paths = write_roster(folder, people)
    figures: dict[str, float] = {}
    async with sessions() as session:
        programme = await create_programme(
            ProgrammeCreate(slug="bench", name="Bench programme", country="KE",
                            timezone="Africa/Nairobi", default_language="sw",
                            service_code="*384*9999#"),
            session=session, actor=ACTOR,
        )  # fmt: skip
        await session.commit()
        for kind in (ImportKind.schools, ImportKind.communities):
            report = await import_csv(kind, read_csv(paths[kind], kind), programme,
                                      session=session, actor=ACTOR)  # fmt: skip
            assert report.applied, report.errors[:3]
        rows = read_csv(paths[ImportKind.people], ImportKind.people)
        bad = [
            *rows,
            (rows[-1][0] + 1, dict(zip(rows[0][1], BAD_LAST_ROW.split(","), strict=True))),
        ]
        started = time.perf_counter()
        report = await import_csv(ImportKind.people, bad, programme, session=session, actor=ACTOR)
        figures["refused"] = time.perf_counter() - started
        assert not report.applied and [e.line for e in report.errors] == [bad[-1][0]]
        for label in ("import", "re-import"):
            chunks = Chunks()
            started = chunks.last = time.perf_counter()
            report = await import_csv(ImportKind.people, rows, programme, session=session,
                                      actor=ACTOR, progress=chunks)  # fmt: skip
            figures[label] = people / (time.perf_counter() - started)
            figures[f"{label} chunk"] = chunks.longest
            assert report.applied and not report.errors, report.errors[:3]
        baseline = await create_programme(
            ProgrammeCreate(slug="baseline", name="Baseline", country="KE",
                            timezone="Africa/Nairobi", default_language="sw",
                            service_code="*384*9998#"),
            session=session, actor=ACTOR,
        )  # fmt: skip
        await session.commit()
        now = utcnow()
        values = [
            {"programme_id": baseline.id, "name": f"Teacher {i}", "phone": f"+254711{i:06d}",
             "language": "sw", "roles": ["teacher"], "subjects": ["Mathematics"],
             "consent": "unknown", "created_at": now, "updated_at": now}
            for i in range(people)
        ]  # fmt: skip
        started = time.perf_counter()
        connection = await session.connection()
        await connection.execute(insert(Person), values)
        await session.commit()
        figures["baseline"] = people / (time.perf_counter() - started)
    await engine.dispose()
    return figures


async def main(people: int = 50_000, backends: tuple[str, ...] = ("sqlite", "postgresql")) -> None:
    print(f"Roster import: {people:,} people, {SCHOOLS} schools, {COMMUNITIES} communities "
          f"(goal: ≥ 2,000 rows/s on both stores; on SQLite {SQLITE_PAUSE_S * 1000:.0f} ms "
          "pauses between chunks let others in)")  # fmt: skip
    print(f"{'backend':<11} {'import/s':>9} {'re-import/s':>12} {'bulk INSERT/s':>14} "
          f"{'import/bulk':>12} {'longest chunk':>14} {'bad last row refused in':>24}")  # fmt: skip
    for backend in backends:
        with tempfile.TemporaryDirectory() as tmp:
            f = await run(backend, people, Path(tmp))
        chunk = max(f["import chunk"], f["re-import chunk"])
        print(f"{backend:<11} {f['import']:>9,.0f} {f['re-import']:>12,.0f} "
              f"{f['baseline']:>14,.0f} {f['import'] / f['baseline']:>12.3f} "
              f"{chunk * 1000:>11.0f} ms {f['refused']:>22.1f} s")  # fmt: skip
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak_mb:.0f} MB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=50_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    asyncio.run(main(args.people, tuple(args.backends.split(","))))
