"""Pronunciation dictionaries: one table, items stored as JSON.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 22:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('pronunciation_dicts',
    sa.Column('seq', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('org_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('items', sa.JSON(), nullable=False),
    sa.Column('pinned', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], ),
    sa.PrimaryKeyConstraint('seq')
    )
    op.create_index(op.f('ix_pronunciation_dicts_id'), 'pronunciation_dicts', ['id'], unique=True)
    op.create_index(op.f('ix_pronunciation_dicts_org_id'), 'pronunciation_dicts', ['org_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_pronunciation_dicts_org_id'), table_name='pronunciation_dicts')
    op.drop_index(op.f('ix_pronunciation_dicts_id'), table_name='pronunciation_dicts')
    op.drop_table('pronunciation_dicts')
