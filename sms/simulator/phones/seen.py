"""The phones and USSD codes a running simulator has met, for the phones page's pickers."""

from __future__ import annotations

# A long-running simulator (a workshop day) keeps only the latest ones.
KEEP = 200


class Seen:
    """Phones that dialled, texted or were opened on the page, and the codes dialled;
    newest last, each once."""

    def __init__(self, keep: int = KEEP) -> None:
        self._keep = keep
        self._phones: dict[str, None] = {}
        self._codes: dict[str, None] = {}

    def phone(self, phone: str) -> None:
        _remember(self._phones, phone, self._keep)

    def dialled(self, phone: str, service_code: str) -> None:
        self.phone(phone)
        _remember(self._codes, service_code, self._keep)

    @property
    def phones(self) -> list[str]:
        return list(self._phones)

    @property
    def service_codes(self) -> list[str]:
        return list(self._codes)


def _remember(kept: dict[str, None], value: str, keep: int) -> None:
    kept.pop(value, None)
    kept[value] = None
    while len(kept) > keep:
        del kept[next(iter(kept))]
