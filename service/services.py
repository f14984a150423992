"""What request handlers may reach, built once per app by `create_app`."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from service.config import Settings
from service.db import SessionFactory
from service.events import AttendanceHub


@dataclass(frozen=True)
class Services:
    settings: Settings
    engine: AsyncEngine
    sessions: SessionFactory
    attendance_hub: AttendanceHub
    # Reports, exports and GraphQL queries: a streaming replica's engine and sessions
    # with `database_read_url` set, else the same objects as `engine` and `sessions`.
    read_engine: AsyncEngine
    read_sessions: SessionFactory

    @property
    def reads_apart(self) -> bool:
        return self.read_engine is not self.engine
