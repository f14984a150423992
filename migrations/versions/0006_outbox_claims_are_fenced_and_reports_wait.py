"""outbox claims are fenced and handed over per request; early delivery reports wait durably

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 05:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

QUEUED = "status = 'queued'"
SENDING = "status = 'sending'"


def upgrade() -> None:
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claim_token', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('handed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_index('ix_message_status_send_after')
        batch_op.create_index(
            'ix_message_due', ['send_after'], unique=False,
            sqlite_where=sa.text(QUEUED), postgresql_where=sa.text(QUEUED),
        )
        batch_op.create_index(
            'ix_message_sending', ['lease_until'], unique=False,
            sqlite_where=sa.text(SENDING), postgresql_where=sa.text(SENDING),
        )
        batch_op.create_index(
            'ix_message_phone_status_id', ['phone', 'status', 'id'], unique=False
        )
    op.create_table(
        'unmatched_report',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('provider_id', sa.String(length=80), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('reported', sa.String(length=20), nullable=False),
        sa.Column('failure_reason', sa.String(length=100), nullable=True),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_unmatched_report')),
        sa.UniqueConstraint('provider_id', name=op.f('uq_unmatched_report_provider_id')),
    )
    with op.batch_alter_table('unmatched_report', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_unmatched_report_received_at'), ['received_at'], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table('unmatched_report', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_unmatched_report_received_at'))
    op.drop_table('unmatched_report')
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_index('ix_message_phone_status_id')
        batch_op.drop_index('ix_message_sending')
        batch_op.drop_index('ix_message_due')
        batch_op.create_index(
            'ix_message_status_send_after', ['status', 'send_after'], unique=False
        )
        batch_op.drop_column('handed_at')
        batch_op.drop_column('claim_token')
