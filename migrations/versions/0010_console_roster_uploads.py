"""roster uploads in the console: the files between preview and confirm, then progress

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 10:41:18.450737
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'roster_upload',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token', sa.String(length=64), nullable=False),
        sa.Column('programme_id', sa.Integer(), nullable=False),
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('console_session_id', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(length=12), nullable=False),
        sa.Column('names', sa.JSON(), nullable=False),
        sa.Column('schools_csv', sa.Text(), nullable=True),
        sa.Column('communities_csv', sa.Text(), nullable=True),
        sa.Column('people_csv', sa.Text(), nullable=True),
        sa.Column('may_grant_console', sa.Boolean(), nullable=False),
        sa.Column('preview', sa.JSON(), nullable=False),
        sa.Column('progress', sa.JSON(), nullable=False),
        sa.Column('result', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('note', sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(['console_session_id'], ['console_session.id'], name=op.f('fk_roster_upload_console_session_id_console_session')),
        sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_roster_upload_person_id_person')),
        sa.ForeignKeyConstraint(['programme_id'], ['programme.id'], name=op.f('fk_roster_upload_programme_id_programme')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_roster_upload')),
        sa.UniqueConstraint('token', name=op.f('uq_roster_upload_token')),
    )
    op.create_index(op.f('ix_roster_upload_programme_id'), 'roster_upload', ['programme_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_roster_upload_programme_id'), table_name='roster_upload')
    op.drop_table('roster_upload')
