"""provider pauses and their history; jobs.waiting_for (retry, poll, rate_limit, provider)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "provider_pauses",
        sa.Column("provider", sa.String(32), primary_key=True),
        sa.Column("account", sa.String(64), primary_key=True),
        sa.Column("until", sa.DateTime(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "provider_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_provider_events_provider", "provider_events", ["provider", "account", "at"])
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.add_column(sa.Column("waiting_for", sa.String(16), nullable=True))
        batch_op.create_index("ix_jobs_held", ["provider", "account", "state", "waiting_for"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.drop_index("ix_jobs_held")
        batch_op.drop_column("waiting_for")
    op.drop_index("ix_provider_events_provider", table_name="provider_events")
    op.drop_table("provider_events")
    op.drop_table("provider_pauses")
