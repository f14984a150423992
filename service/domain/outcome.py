"""What an upsert did: reported by imports so a re-run visibly changes nothing."""

from enum import StrEnum


class Outcome(StrEnum):
    created = "created"
    updated = "updated"
    unchanged = "unchanged"
