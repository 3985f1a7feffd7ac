"""llm output checks in the ledger

Revision ID: a8c4e2f19d53
Revises: f3b8d0c6a215
Create Date: 2026-12-02 23:10:00

Two counts per LLM call, for answers given entries to cite (review drafts, Ask): distinct
citations of ids that were not given to the model, and Markdown links it wrote (which are never
rendered live).
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a8c4e2f19d53'
down_revision = 'f3b8d0c6a215'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('llm_calls') as batch:
        batch.add_column(sa.Column('unverified_citations', sa.Integer(), server_default='0',
                                   nullable=False))
        batch.add_column(sa.Column('stripped_links', sa.Integer(), server_default='0',
                                   nullable=False))


def downgrade():
    with op.batch_alter_table('llm_calls') as batch:
        batch.drop_column('stripped_links')
        batch.drop_column('unverified_citations')
