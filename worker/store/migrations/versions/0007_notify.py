"""jobs.notify: tell the producer how a job ended (a Celery task, a signed POST to a URL)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.add_column(sa.Column("notify", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("notify_due", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("notified_at", sa.DateTime(), nullable=True))
        batch_op.create_index("ix_jobs_notify_due", ["notify_due", "state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.drop_index("ix_jobs_notify_due")
        batch_op.drop_column("notified_at")
        batch_op.drop_column("notify_due")
        batch_op.drop_column("notify")
