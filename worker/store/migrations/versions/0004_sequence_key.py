"""jobs.sequence_key: jobs acting on one provider order (a Printlane order id)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.add_column(sa.Column("sequence_key", sa.String(length=255), nullable=True))
        batch_op.create_index("ix_jobs_sequence", ["provider", "account", "sequence_key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.drop_index("ix_jobs_sequence")
        batch_op.drop_column("sequence_key")
