"""stored list excerpt on entries, per-user data version

Revision ID: 7e12a4c9b3d5
Revises: 5c1d9e7a2b40
Create Date: 2026-12-03 06:10:00

`log_entries.excerpt` is the list row's plain preview, computed when an entry is saved
(before, every list render turned four Markdown fields into text). Existing rows are
backfilled here in batches with the app's own rule. `users.data_version` is bumped by every
write that changes what a user's pages show; the pages' ETags are built from it.
"""
import sqlalchemy as sa
from alembic import context, op

# revision identifiers, used by Alembic.
revision = '7e12a4c9b3d5'
down_revision = '5c1d9e7a2b40'
branch_labels = None
depends_on = None

BATCH = 5000


def upgrade():
    # Plain ADD COLUMN (with a constant default) works on both databases, in --sql mode too.
    op.add_column('log_entries', sa.Column('excerpt', sa.Text(), server_default=sa.text("''"),
                                           nullable=False))
    op.add_column('users', sa.Column('data_version', sa.BigInteger(), server_default='0', nullable=False))
    if context.is_offline_mode():
        # SQL written for review cannot run Python: the excerpts are filled by the online upgrade
        # (or by saving each entry again).
        op.execute("-- log_entries.excerpt: backfilled by `flask db upgrade` (online) only")
        return
    backfill_excerpts(op.get_bind())


def backfill_excerpts(bind):
    from functools import lru_cache

    from app.services.markdown import plain_excerpt

    # Many entries repeat a text (templates, bench data): render each distinct one once.
    plain_excerpt = lru_cache(maxsize=20_000)(plain_excerpt)

    entries = sa.table('log_entries', sa.column('id', sa.Integer), sa.column('excerpt', sa.Text),
                       *(sa.column(p, sa.Text) for p in ('situation', 'task', 'action', 'result')))
    last = 0
    while True:
        rows = bind.execute(
            sa.select(entries.c.id, entries.c.result, entries.c.action, entries.c.situation,
                      entries.c.task)
            .where(entries.c.id > last).order_by(entries.c.id).limit(BATCH)
        ).all()
        if not rows:
            return
        updates = []
        for id_, result, action, situation, task in rows:
            text = plain_excerpt(result or action or situation or task)
            if text:
                updates.append({'b_id': id_, 'b_excerpt': text})
        if updates:
            bind.execute(entries.update().where(entries.c.id == sa.bindparam('b_id'))
                         .values(excerpt=sa.bindparam('b_excerpt')), updates)
        last = rows[-1][0]


def downgrade():
    with op.batch_alter_table('users') as batch:
        batch.drop_column('data_version')
    with op.batch_alter_table('log_entries') as batch:
        batch.drop_column('excerpt')
