"""Which phones and codes the page offers: the demo's (demo.json) and those the simulator
has met (inboxes, dials, texts, numbers typed on the page)."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from functools import cache
from importlib.resources import files
from typing import Any

from sms.simulator.phones.seen import Seen
from sms.simulator.state import Inbox

# What the page accepts as a number: E.164 with its plus, as AT writes phoneNumber.
PHONE = re.compile(r"^\+[1-9]\d{6,14}$")
# A USSD service code as a handset dials it: *384*2541#.
SERVICE_CODE = re.compile(r"^\*[0-9*]{1,30}#$")


@dataclass(frozen=True)
class KnownPhone:
    phone: str
    name: str = ""
    who: str = ""
    demo: bool = False


@dataclass(frozen=True)
class Known:
    phones: list[KnownPhone]
    service_codes: list[str]
    short_codes: list[str]

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def label(self, phone: str) -> str:
        """`+254712100002 (Everlyne Ingosi, teacher, ke-clusters)`, or the bare number."""
        for known in self.phones:
            if known.phone == phone and known.name:
                return f"{phone} ({known.name}, {known.who})"
        return phone


@cache
def demo() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        files("sms.simulator.phones").joinpath("demo.json").read_text(encoding="utf-8")
    )
    return data


def known(inbox: Inbox, seen: Seen) -> Known:
    data = demo()
    phones = [KnownPhone(p["phone"], p["name"], p["who"], demo=True) for p in data["phones"]]
    listed = {p.phone for p in phones}
    # Newest first: the number a trainer typed a minute ago is the one they want again.
    for phone in reversed([*inbox.phones(), *seen.phones]):
        if phone not in listed:
            listed.add(phone)
            phones.append(KnownPhone(phone))
    codes = [c["code"] for c in data["service_codes"]]
    codes += [c for c in reversed(seen.service_codes) if c not in codes]
    return Known(phones, codes, list(data["short_codes"]))
