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
