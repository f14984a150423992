"""audience surveys sent at a set time; programmes price USSD sessions

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 15:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE on both engines (SQLite >= 3.35 drops a column in place): batch mode
# would rebuild `programme` and `survey`, which every other table references, and SQLite
# refuses to drop a referenced table while foreign keys are on.


def upgrade() -> None:
    # Existing programmes price USSD at nothing, per session, until an admin says otherwise.
    op.add_column('programme', sa.Column('ussd_price', sa.Numeric(precision=10, scale=4), server_default='0', nullable=False))
    op.add_column('programme', sa.Column('ussd_billing', sa.String(length=8), server_default='session', nullable=False))
    op.add_column('survey', sa.Column('send_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('survey', sa.Column('send_to', sa.JSON(), nullable=True))
    op.add_column('survey', sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column('survey', 'sent_at')
    op.drop_column('survey', 'send_to')
    op.drop_column('survey', 'send_at')
    op.drop_column('programme', 'ussd_billing')
    op.drop_column('programme', 'ussd_price')
