"""people remember choosing their language, so a roster import keeps it

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 05:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The language each person's latest own choice set, read from the audit trail.
_CHOSEN = {
    "sqlite": "json_extract(a.changes, '$.language[1]')",
    "postgresql": "a.changes -> 'language' ->> 1",
}


def upgrade() -> None:
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language_chosen_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('language_chosen_channel', sa.String(length=12), nullable=True))

    # People who chose their language on the USSD menu before this column existed: their
    # choice is in the audit trail ('person.language'). Mark it, unless a roster import has
    # since overwritten it (the language is no longer the one they chose).
    latest = (
        "FROM audit_entry a WHERE a.object_type = 'person' AND a.object_id = person.id"
        " AND a.action = 'person.language' ORDER BY a.at DESC, a.id DESC LIMIT 1"
    )
    chosen = _CHOSEN[op.get_bind().dialect.name]
    op.execute(
        f"UPDATE person SET language_chosen_at = (SELECT a.at {latest}),"
        f" language_chosen_channel = (SELECT a.channel {latest})"
        f" WHERE language = (SELECT {chosen} {latest})"
    )


def downgrade() -> None:
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_column('language_chosen_channel')
        batch_op.drop_column('language_chosen_at')
