"""What the simulator remembers: phones' inboxes, what it was asked, the faults to inject."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from random import Random
from typing import Any


class InboxMessage:
    """One SMS on one simulated phone. Slots: the benchmark keeps 100,000 of them."""

    __slots__ = ("final_status", "id", "received_at", "sender", "status", "text")

    def __init__(self, id: str, sender: str, text: str, final_status: str) -> None:
        self.id = id
        self.sender = sender
        self.text = text  # one string shared by every recipient of a request
        self.received_at = time.time()
        self.status = "Sent"  # until the delivery report goes out
        self.final_status = final_status  # "Success" or "Failed", drawn when accepted

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "from": self.sender,
            "text": self.text,
            "received_at": datetime.fromtimestamp(self.received_at, UTC).isoformat(),
            "status": self.status,
        }


class Inbox:
    def __init__(self, per_phone: int) -> None:
        self._per_phone = per_phone
        self._by_phone: dict[str, list[InboxMessage]] = {}

    def add(self, phone: str, message: InboxMessage) -> None:
        messages = self._by_phone.setdefault(phone, [])
        messages.append(message)
        if len(messages) > self._per_phone:
            del messages[: len(messages) - self._per_phone]

    def of(self, phone: str) -> list[InboxMessage]:
        return list(self._by_phone.get(phone, ()))

    def phones(self) -> list[str]:
        """The phones with messages, in the order their first arrived."""
        return list(self._by_phone)

    def clear(self) -> None:
        self._by_phone.clear()

    def __len__(self) -> int:
        return sum(len(messages) for messages in self._by_phone.values())


@dataclass
class Counters:
    """What the messaging endpoint was asked, so a test can prove nothing went twice."""

    requests: int = 0
    recipients: int = 0
    accepted: int = 0
    rejected: int = 0
    faulted: int = 0
    # The latest request's form (message and numbers left out) and headers the SDK sent.
    last_request: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class FaultMode(StrEnum):
    none = "none"
    http500 = "http500"  # the whole request answers HTTP 500
    timeout = "timeout"  # the request hangs past the client's timeout, then is accepted
    slow = "slow"  # the request is answered normally after `delay_s`
    reject = "reject"  # a share of the recipients get `reject_status_code`


@dataclass
class Fault:
    mode: FaultMode = FaultMode.none
    count: int | None = None  # how many upcoming requests; None: until reset
    reject_share: float = 0.5
    reject_status_code: int = 500
    delay_s: float | None = None  # for `timeout` and `slow`; None: the simulator's default
    share: float = 1.0  # the chance that a request meets the fault (counted only if it does)

    @classmethod
    def from_json(cls, body: Any) -> Fault:
        if not isinstance(body, dict):
            raise ValueError("expected a JSON object")
        known = {"mode", "count", "reject_share", "reject_status_code", "delay_s", "share"}
        unknown = set(body) - known
        if unknown:
            raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
        fault = cls(
            mode=FaultMode(body.get("mode", "none")),
            count=None if body.get("count") is None else int(body["count"]),
            reject_share=float(body.get("reject_share", 0.5)),
            reject_status_code=int(body.get("reject_status_code", 500)),
            delay_s=None if body.get("delay_s") is None else float(body["delay_s"]),
            share=float(body.get("share", 1.0)),
        )
        if fault.count is not None and fault.count < 0:
            raise ValueError("count must not be negative")
        if not 0.0 <= fault.reject_share <= 1.0:
            raise ValueError("reject_share must be between 0 and 1")
        if not 0.0 <= fault.share <= 1.0:
            raise ValueError("share must be between 0 and 1")
        if not 400 <= fault.reject_status_code <= 599:
            raise ValueError("reject_status_code must be an AT failure code (4xx or 5xx)")
        return fault

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Faults:
    current: Fault = field(default_factory=Fault)
    rng: Random = field(default_factory=Random)

    def set(self, fault: Fault) -> None:
        self.current = fault

    def reset(self) -> None:
        self.current = Fault()

    def take(self) -> Fault | None:
        """The fault for the request arriving now, counting it against `count`."""
        fault = self.current
        if fault.mode is FaultMode.none:
            return None
        if fault.share < 1.0 and self.rng.random() >= fault.share:
            return None
        if fault.count is not None:
            if fault.count <= 0:
                self.reset()
                return None
            fault.count -= 1
            if fault.count == 0:
                self.reset()
        return fault
