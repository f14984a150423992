"""data rights: consent history, legal hold, erasure, and a programme's retention period

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 08:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE, as in 0013 and 0014: a batch copy of `person` would rebuild tables
# every other one references.


def upgrade() -> None:
    op.add_column('person', sa.Column('legal_hold_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('person', sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        'programme',
        sa.Column('retention_months', sa.Integer(), server_default='24', nullable=False),
    )
    op.create_table(
        'consent_record',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(length=12), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('channel', sa.String(length=12), nullable=False),
        sa.Column('recorded_by', sa.String(length=60), nullable=False),
        sa.ForeignKeyConstraint(
            ['person_id'], ['person.id'], name=op.f('fk_consent_record_person_id_person')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_record')),
    )
    op.create_index(
        'ix_consent_record_person_id_at', 'consent_record', ['person_id', 'at'], unique=False
    )
    # What was recorded before the history existed (START by SMS) becomes its first entry.
    op.execute(
        "INSERT INTO consent_record (person_id, state, at, channel, recorded_by) "
        "SELECT id, consent, consent_at, COALESCE(consent_channel, 'system'), "
        "'person:' || CAST(id AS VARCHAR(12)) "
        "FROM person WHERE consent <> 'unknown' AND consent_at IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_index('ix_consent_record_person_id_at', table_name='consent_record')
    op.drop_table('consent_record')
    op.execute("UPDATE person SET consent = 'refused' WHERE consent = 'withdrawn'")
    op.drop_column('programme', 'retention_months')
    op.drop_column('person', 'erased_at')
    op.drop_column('person', 'legal_hold_at')
