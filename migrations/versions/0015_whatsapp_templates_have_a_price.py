"""a programme's price of a WhatsApp template message (free text in the window is free)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 18:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        'programme',
        sa.Column('whatsapp_price', sa.Numeric(10, 4), server_default='0', nullable=False),
    )


def downgrade() -> None:
    op.drop_column('programme', 'whatsapp_price')
