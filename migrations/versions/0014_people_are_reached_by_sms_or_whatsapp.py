"""people are reached by SMS or WhatsApp; messages record their channel and any fallback

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 15:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE, as in 0013: a batch copy of `person` or `message` would rebuild
# tables every other one references.


def upgrade() -> None:
    # Everyone stays on SMS until they (or staff) choose WhatsApp.
    op.add_column('person', sa.Column('reach', sa.String(length=8), server_default='sms', nullable=False))
    op.add_column('person', sa.Column('whatsapp_opt_in_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('person', sa.Column('whatsapp_opted_out_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('person', sa.Column('whatsapp_last_inbound_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('message', sa.Column('reach', sa.String(length=8), server_default='sms', nullable=False))
    op.add_column('message', sa.Column('fallback_reason', sa.String(length=80), nullable=True))
    op.add_column('programme', sa.Column('whatsapp_number', sa.String(length=20), nullable=True))


def downgrade() -> None:
    op.drop_column('programme', 'whatsapp_number')
    op.drop_column('message', 'fallback_reason')
    op.drop_column('message', 'reach')
    op.drop_column('person', 'whatsapp_last_inbound_at')
    op.drop_column('person', 'whatsapp_opted_out_at')
    op.drop_column('person', 'whatsapp_opt_in_at')
    op.drop_column('person', 'reach')
