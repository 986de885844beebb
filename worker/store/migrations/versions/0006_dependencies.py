"""job_dependencies: a job waits (blocked) for the jobs whose results it uses or that it must follow

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_dependencies",
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("depends_on", sa.String(length=36), nullable=False),
        sa.Column("ordering", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["depends_on"], ["jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("job_id", "depends_on"),
    )
    with op.batch_alter_table("job_dependencies") as batch_op:
        batch_op.create_index("ix_job_dependencies_depends_on", ["depends_on"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("job_dependencies") as batch_op:
        batch_op.drop_index("ix_job_dependencies_depends_on")
    op.drop_table("job_dependencies")
