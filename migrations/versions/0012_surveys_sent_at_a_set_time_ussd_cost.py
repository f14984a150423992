"""audience surveys sent at a set time; programmes price USSD sessions

Revision ID: 0012
Revises: 0010
Create Date: 2026-11-30 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing programmes price USSD at nothing, per session, until an admin says otherwise.
    with op.batch_alter_table('programme', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ussd_price', sa.Numeric(precision=10, scale=4), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('ussd_billing', sa.String(length=8), server_default='session', nullable=False))

    with op.batch_alter_table('survey', schema=None) as batch_op:
        batch_op.add_column(sa.Column('send_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('send_to', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('survey', schema=None) as batch_op:
        batch_op.drop_column('sent_at')
        batch_op.drop_column('send_to')
        batch_op.drop_column('send_at')

    with op.batch_alter_table('programme', schema=None) as batch_op:
        batch_op.drop_column('ussd_billing')
        batch_op.drop_column('ussd_price')
