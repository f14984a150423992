"""meetings carry their toolkit activity: a title, a short link or a toolkit page;
facilitators are sent a "prepare" SMS once per start

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 15:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('meeting', schema=None) as batch_op:
        batch_op.add_column(sa.Column('activity', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('activity_link', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('activity_page', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('prepared_for', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('meeting', schema=None) as batch_op:
        batch_op.drop_column('prepared_for')
        batch_op.drop_column('activity_page')
        batch_op.drop_column('activity_link')
        batch_op.drop_column('activity')
