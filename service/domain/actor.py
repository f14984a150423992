"""Who made a change and through which channel: kept beside every RSVP, mark and audit entry."""

from __future__ import annotations

from dataclasses import dataclass

from service.models.enums import Channel


@dataclass(frozen=True, slots=True)
class Actor:
    kind: str  # person, apikey, cli, system
    channel: Channel
    id: int | None = None
    name: str | None = None

    @property
    def label(self) -> str:
        if self.id is not None:
            return f"{self.kind}:{self.id}"
        if self.name:
            return f"{self.kind}:{self.name}"[:40]
        return self.kind

    @property
    def person_id(self) -> int | None:
        return self.id if self.kind == "person" else None

    @classmethod
    def person(cls, person_id: int, channel: Channel) -> Actor:
        return cls(kind="person", channel=channel, id=person_id)

    @classmethod
    def api_key(cls, key_id: int) -> Actor:
        return cls(kind="apikey", channel=Channel.api, id=key_id)

    @classmethod
    def cli(cls, operator: str | None = None, channel: Channel = Channel.cli) -> Actor:
        return cls(kind="cli", channel=channel, name=operator)

    @classmethod
    def system(cls) -> Actor:
        return cls(kind="system", channel=Channel.system)
