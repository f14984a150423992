"""Opaque global ids (`base64("Meeting:12")`): a client cannot guess another type's rows."""

from __future__ import annotations

import base64
import binascii

import strawberry

from service.domain.errors import NotFound


def encode(type_name: str, pk: int | None) -> strawberry.ID:
    assert pk is not None
    return strawberry.ID(
        base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")
    )


def decode_any(gid: str) -> tuple[str, int]:
    try:
        padded = gid + "=" * (-len(gid) % 4)
        type_name, _, pk = base64.urlsafe_b64decode(padded.encode()).decode().partition(":")
        return type_name, int(pk)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise NotFound(f"{gid!r} is not an id of this API", id=gid) from None


def decode(gid: str, type_name: str) -> int:
    """The row id behind `gid`, which must name a `type_name`."""
    found, pk = decode_any(gid)
    if found != type_name:
        raise NotFound(f"{gid!r} is not a {type_name} id", id=gid)
    return pk
