"""the web console: a console role per person, sign-in codes and sessions

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 10:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('console_role', sa.String(length=20), nullable=True))

    op.create_table(
        'sign_in_code',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('phone', sa.String(length=20), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('tries', sa.Integer(), nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_code')),
    )
    op.create_index('ix_sign_in_code_phone_created_at', 'sign_in_code', ['phone', 'created_at'])
    op.create_table(
        'console_session',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('csrf_token', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('notice', sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_console_session_person_id_person')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_console_session')),
    )
    op.create_index(op.f('ix_console_session_person_id'), 'console_session', ['person_id'])
    op.create_index(op.f('ix_console_session_token_hash'), 'console_session', ['token_hash'])


def downgrade() -> None:
    op.drop_index(op.f('ix_console_session_token_hash'), table_name='console_session')
    op.drop_index(op.f('ix_console_session_person_id'), table_name='console_session')
    op.drop_table('console_session')
    op.drop_index('ix_sign_in_code_phone_created_at', table_name='sign_in_code')
    op.drop_table('sign_in_code')
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_column('console_role')
