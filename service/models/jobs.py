"""The last run of each periodic job, shared by every worker of the deployment."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from service.models.base import text_col, when


class JobRun(SQLModel, table=True):
    __tablename__ = "job_run"

    # One row per job: claiming its period is one conditional UPDATE of this row, so
    # however many workers tick, one of them runs the job in each period.
    name: str = Field(primary_key=True, max_length=64)
    started_at: datetime | None = when()
    finished_at: datetime | None = when()
    duration_ms: int | None = Field(default=None)
    outcome: str | None = text_col(12, nullable=True)  # running, ok, failed
    count: int | None = Field(default=None)  # how many things the last run did
    error: str | None = text_col(300, nullable=True)
    worker: str | None = text_col(120, nullable=True)  # who ran it last
    runs: int = Field(default=0, nullable=False)
    failures: int = Field(default=0, nullable=False)
