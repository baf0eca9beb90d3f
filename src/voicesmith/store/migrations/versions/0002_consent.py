"""Consent: challenges and attempts; consent and provenance on voices and fine-tunes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('consent_challenges',
    sa.Column('seq', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('org_id', sa.String(length=64), nullable=False),
    sa.Column('dataset_id', sa.String(length=64), nullable=True),
    sa.Column('speaker_name', sa.String(length=200), nullable=False),
    sa.Column('code', sa.String(length=200), nullable=False),
    sa.Column('statement', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('api_key_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], ),
    sa.PrimaryKeyConstraint('seq')
    )
    with op.batch_alter_table('consent_challenges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consent_challenges_dataset_id'), ['dataset_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_consent_challenges_id'), ['id'], unique=True)
        batch_op.create_index(batch_op.f('ix_consent_challenges_org_id'), ['org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_consent_challenges_status'), ['status'], unique=False)

    op.create_table('consent_attempts',
    sa.Column('seq', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('org_id', sa.String(length=64), nullable=False),
    sa.Column('dataset_id', sa.String(length=64), nullable=True),
    sa.Column('challenge_id', sa.String(length=64), nullable=True),
    sa.Column('api_key_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('verified', sa.Boolean(), nullable=False),
    sa.Column('reason_code', sa.String(length=64), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('transcript', sa.Text(), nullable=True),
    sa.Column('code_score', sa.Float(), nullable=True),
    sa.Column('statement_wer', sa.Float(), nullable=True),
    sa.Column('similarity', sa.Float(), nullable=True),
    sa.Column('threshold', sa.Float(), nullable=True),
    sa.Column('seconds', sa.Float(), nullable=True),
    sa.Column('filename', sa.String(length=500), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('blob_key', sa.String(length=300), nullable=True),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], ),
    sa.PrimaryKeyConstraint('seq')
    )
    with op.batch_alter_table('consent_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consent_attempts_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_consent_attempts_dataset_id'), ['dataset_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_consent_attempts_id'), ['id'], unique=True)
        batch_op.create_index(batch_op.f('ix_consent_attempts_org_id'), ['org_id'], unique=False)

    with op.batch_alter_table('fine_tunes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('consent', sa.String(length=16), server_default='unverified', nullable=False))
        batch_op.add_column(sa.Column('consent_attempt_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('api_key_id', sa.String(length=64), nullable=True))

    with op.batch_alter_table('voices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('consent', sa.String(length=16), server_default='unverified', nullable=False))
        batch_op.add_column(sa.Column('consent_attempt_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('source_dataset_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('source_clip', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('created_by_key_id', sa.String(length=64), nullable=True))
    op.execute("UPDATE voices SET consent = 'stock' WHERE kind = 'stock'")
    # Voices made by a fine-tune before this migration came from the fine-tune's dataset.
    op.execute("UPDATE voices SET source_dataset_id = (SELECT dataset_id FROM fine_tunes "
               "WHERE fine_tunes.id = voices.fine_tune_id) WHERE fine_tune_id IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table('voices', schema=None) as batch_op:
        for column in ('created_by_key_id', 'source_clip', 'source_dataset_id', 'consent_attempt_id', 'consent'):
            batch_op.drop_column(column)
    with op.batch_alter_table('fine_tunes', schema=None) as batch_op:
        for column in ('api_key_id', 'consent_attempt_id', 'consent'):
            batch_op.drop_column(column)
    with op.batch_alter_table('consent_attempts', schema=None) as batch_op:
        for index in ('org_id', 'id', 'dataset_id', 'created_at'):
            batch_op.drop_index(batch_op.f(f'ix_consent_attempts_{index}'))
    op.drop_table('consent_attempts')
    with op.batch_alter_table('consent_challenges', schema=None) as batch_op:
        for index in ('status', 'org_id', 'id', 'dataset_id'):
            batch_op.drop_index(batch_op.f(f'ix_consent_challenges_{index}'))
    op.drop_table('consent_challenges')
