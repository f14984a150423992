"""An id another system gives a person or school: a TSC number, a school's EMIS code.

Optional, unique within a programme when set, matched exactly as written (case kept):
it is that system's id, not ours to reformat. Blank is none.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from service.models.base import EXTERNAL_ID_LENGTH


def clean_external_id(value: str | None) -> str | None:
    """Trimmed; None for blank; refused when too long or holding a line break or control."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if len(value) > EXTERNAL_ID_LENGTH:
        raise ValueError(f"an external id is at most {EXTERNAL_ID_LENGTH} characters")
    if not value.isprintable():
        raise ValueError("an external id holds no line breaks or control characters")
    return value


ExternalId = Annotated[str | None, AfterValidator(clean_external_id)]
