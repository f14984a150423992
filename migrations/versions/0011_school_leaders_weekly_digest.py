"""school leaders get a weekly SMS digest on the programme's day and time

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 15:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every programme starts with the default: Monday 07:00 programme time.
    with op.batch_alter_table('programme', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('digest_day', sa.String(length=9), server_default='monday', nullable=False)
        )
        batch_op.add_column(
            sa.Column('digest_time', sa.Time(), server_default='07:00:00', nullable=False)
        )


def downgrade() -> None:
    # Dropped in place (SQLite 3.35+ can): a batch copy of `programme` would have to
    # drop the table every other table refers to, which SQLite refuses once it has rows.
    op.drop_column('programme', 'digest_time')
    op.drop_column('programme', 'digest_day')
