"""USSD hops under load: `copline serve` on PostgreSQL beside two bare endpoints.

Sessions are the demo's real ones: teachers list meetings and say yes, teachers check
in with a code, facilitators open attendance and mark a member ("menus and writes");
the same sessions without their last, writing hop are the "menus only" run. `wrk`
(Debian's package: apt-get install wrk) generates the load from a Lua script, so the
load generator is not the bottleneck. Baselines in the same run: a bare Starlette
endpoint that parses the form (the HTTP stack), and the floor that matters, one that
parses the form and makes one asyncpg query for the caller on a pool of copline's
size (bench/bare_ussd_db.py). Goals on a 2-core machine (issue 15): >= 2,500 hops/s
with 100 concurrent sessions, p99 <= 50 ms at 20 and <= 150 ms at 100; menu hops
>= 0.8 of the floor.

Where /proc exists (Linux) each copline run also reports the CPU a hop costs the web
processes and PostgreSQL's backends, and the load average: on a shared machine the
rate moves with whatever else runs, the CPU per hop much less.

    python -m bench.ussd_load [--seconds 15] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
from sqlmodel import col, select

from service import migrate
from service.config import Settings
from service.db import build_engine, build_session_factory
from service.demo import seed
from service.models import Meeting, Membership, Person, Programme
from service.models.enums import MeetingStatus, MembershipRole, MembershipStatus
from service.models.types import utcnow

TOKEN = "bench-token"
ROOT = str(Path(__file__).resolve().parent.parent)
LUA = """
local hops = {%s}
local n = 0
local tid = 0
function setup(thread) tid = tid + 1; thread:set("tid", tid) end
function request()
  n = n + 1
  local h = hops[(n - 1) %% #hops + 1]
  local body = string.format(h, tid .. "-" .. math.floor((n - 1) / #hops))
  return wrk.format("POST", nil, {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end
"""


async def sessions(url: str) -> list[list[str]]:
    """Each session: the form bodies of its hops, with %s where the session id goes."""
    engine = build_engine(Settings(database_url=url, _env_file=None))
    await migrate.upgrade(engine)
    async with build_session_factory(engine)() as session:
        await seed(session)
        now = utcnow()
        rows = (
            await session.exec(
                select(
                    Person.phone, Programme.service_code, Membership.role, Membership.community_id
                )
                .join(Programme, col(Programme.id) == Person.programme_id)
                .join(Membership, col(Membership.person_id) == Person.id)
                .where(Person.phone != None, Membership.status == MembershipStatus.active)  # noqa: E711
            )
        ).all()
        soon = {
            m.community_id: m.code
            for m in (
                await session.exec(select(Meeting).where(Meeting.status == MeetingStatus.scheduled))
            ).all()
            if 0 < (m.starts_at - now).total_seconds() < 3600
        }
    await engine.dispose()
    out: list[list[str]] = []
    for phone, code, role, community in rows:
        paths = [["", "1", "1*1", "1*1*1"]]  # list meetings, open the first, say yes
        if community in soon:
            paths.append(["", "2", f"2*{soon[community]}", f"2*{soon[community]}*1"])  # check in
        if role == MembershipRole.facilitator:
            paths.append(["", "6", "6*1", "6*2", "6*2*1", "6*2*1*2"])  # counts, attendance, mark
        for path in paths:
            out.append(
                [
                    urlencode(
                        {
                            "serviceCode": code,
                            "phoneNumber": phone,
                            "networkCode": "63902",
                            "text": text,
                        }
                    )
                    + "&sessionId=bench-%s-"
                    + str(len(out))
                    for text in path
                ]
            )
    return out


def menus_only(all_sessions: list[list[str]]) -> list[list[str]]:
    """Each session without its last hop: the one that writes (an RSVP, a check-in,
    a mark)."""
    return [s[:-1] for s in all_sessions if len(s) > 1]


def lua(all_sessions: list[list[str]]) -> str:
    hops = [hop for s in all_sessions for hop in s]
    return LUA % ", ".join('"' + h.replace("%", "%%").replace("%%s", "%s") + '"' for h in hops)


def start(command: list[str], env: dict[str, str], cwd: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def wait(port: int) -> None:
    for _ in range(150):
        try:
            httpx.post(f"http://127.0.0.1:{port}/at/{TOKEN}/ussd", data={}, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing answered on port {port}")


TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pids: set[int]) -> float:
    """User + system CPU of these processes so far (0 for those gone or unreadable)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICKS


def processes(parent: int, database: str) -> tuple[set[int], set[int]]:
    """The web workers under `parent`, and PostgreSQL's backends serving `database`."""
    workers, backends = set(), set()
    for entry in Path("/proc").iterdir() if Path("/proc/self/stat").exists() else ():
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError):
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
            workers.add(int(entry.name))
        elif command.startswith("postgres:") and f" {database} " in command:
            backends.add(int(entry.name))
    return workers, backends


def wrk(
    port: int, script: Path, connections: int, seconds: int, watch: tuple[int, str] | None = None
) -> tuple[float, float, float, str]:
    before: dict[str, float] = {}
    if watch is not None:
        workers, backends = processes(*watch)
        before = {"web": cpu_seconds(workers), "pg": cpu_seconds(backends)}
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script),
         f"http://127.0.0.1:{port}/at/{TOKEN}/ussd"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def pct(p: str) -> float:
        value, unit = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"{errors.group(1)} failed hops:\n{out}")
    cost = ""
    if watch is not None and before:
        hops = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
        # Backends live as long as the pool's connections: the same set before and after.
        workers, backends = processes(*watch)
        web = (cpu_seconds(workers) - before["web"]) * 1000 / hops
        pg = (cpu_seconds(backends) - before["pg"]) * 1000 / hops
        cost = f"  CPU/hop: web {web:.2f} ms, PostgreSQL {pg:.2f} ms; load {os.getloadavg()[0]:.1f}"
    return rate, pct("50"), pct("99"), cost


async def main(seconds: int = 15, workers: int = 2) -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    from tests.databases import fresh_postgres_database

    url = await fresh_postgres_database("copline_bench_ussd")
    all_sessions = await sessions(url)
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "hops.lua"
        script.write_text(lua(all_sessions))
        menus = Path(folder) / "menus.lua"
        menus.write_text(lua(menus_only(all_sessions)))
        env = os.environ | {
            "COPLINE_DATABASE_URL": url,
            "COPLINE_CALLBACK_TOKEN": TOKEN,
            "COPLINE_LOG_LEVEL": "WARNING",
            "COPLINE_WORKER_IN_PROCESS": "false",
        }
        copline = start(
            [sys.executable, "-m", "service.cli.main", "serve", "--port", "8771",
             "--no-migrate", "--workers", str(workers)],
            env, folder,
        )  # fmt: skip
        bares = []
        for module, port in (("bare_ussd", 8772), ("bare_ussd_db", 8773)):
            command = [sys.executable, "-m", "uvicorn", f"bench.{module}:app", "--port",
                       str(port), "--workers", str(workers), "--log-level", "warning",
                       "--no-access-log"]  # fmt: skip
            bares.append(start(command, env, ROOT))
        try:
            for port in (8771, 8772, 8773):
                wait(port)
            hops = sum(len(s) for s in all_sessions)
            print(
                f"USSD load: {len(all_sessions)} demo sessions ({hops} hops) cycled for {seconds}s "
                f"per run, {workers} worker process(es) each, PostgreSQL"
            )
            wrk(8771, script, 20, 3)  # warm caches and connection pools
            wrk(8773, script, 20, 3)
            columns = ("sessions", "hops/s", "p50 ms", "p99 ms", "vs floor")
            print(f"{'target':<30}" + "".join(f"{c:>9}" for c in columns))
            database = url.rsplit("/", 1)[1]
            for connections in (100, 20):
                bare = wrk(8772, script, connections, seconds)
                floor = wrk(8773, script, connections, seconds)
                ours = wrk(8771, script, connections, seconds, watch=(copline.pid, database))
                only_menus = wrk(8771, menus, connections, seconds, watch=(copline.pid, database))
                for name, (rate, p50, p99, cost) in (
                    ("bare Starlette", bare),
                    ("floor: form + 1 asyncpg query", floor),
                    ("copline: menus and writes", ours),
                    ("copline: menus only", only_menus),
                ):
                    ratio = rate / floor[0]
                    print(
                        f"{name:<30}{connections:>9}{rate:>9.0f}{p50:>9.1f}{p99:>9.1f}{ratio:>9.2f}"
                        + cost
                    )
            print(
                "goals: >= 2,500 hops/s at 100 sessions (menus and writes); p99 <= 50 ms at 20, "
                "<= 150 ms at 100; menus only >= 0.80 of the floor"
            )
        finally:
            for process in (copline, *bares):
                process.terminate()
                process.wait(timeout=10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.workers))
