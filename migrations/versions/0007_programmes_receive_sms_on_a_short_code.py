"""programmes receive SMS on a short code

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # No programme has a short code yet: each keeps receiving what no code claims.
    with op.batch_alter_table('programme', schema=None) as batch_op:
        batch_op.add_column(sa.Column('short_code', sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('programme', schema=None) as batch_op:
        batch_op.drop_column('short_code')
