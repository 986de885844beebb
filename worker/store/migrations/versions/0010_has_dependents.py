"""jobs.has_dependents: a job knows whether others wait for it, so that recording its end needs no
extra query when none do (most jobs); filled for existing jobs from job_dependencies

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.add_column(sa.Column("has_dependents", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute(
        "UPDATE jobs SET has_dependents = TRUE WHERE EXISTS (SELECT 1 FROM job_dependencies d WHERE d.depends_on = jobs.id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.drop_column("has_dependents")
