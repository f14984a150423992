"""people and schools carry an optional external id (a TSC number, an EMIS code)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 08:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE and unique indexes (not constraints), as in 0014: SQLite adds both in
# place, where a batch copy of `person` would rebuild every table that references it.


def upgrade() -> None:
    op.add_column('person', sa.Column('external_id', sa.String(length=64), nullable=True))
    op.create_index('uq_person_programme_id_external_id', 'person', ['programme_id', 'external_id'], unique=True)
    op.add_column('school', sa.Column('external_id', sa.String(length=64), nullable=True))
    op.create_index('uq_school_programme_id_external_id', 'school', ['programme_id', 'external_id'], unique=True)


def downgrade() -> None:
    op.drop_index('uq_school_programme_id_external_id', table_name='school')
    op.drop_column('school', 'external_id')
    op.drop_index('uq_person_programme_id_external_id', table_name='person')
    op.drop_column('person', 'external_id')
