"""job_references (jobs find, the console's search), filled for existing jobs; jobs.scrubbed_at and
an index on (state, updated_at) for retention

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29

The backfill asks each job's adapter which payload and result fields are references (the same
code that fills the table at enqueue and on success), in batches of 1000 jobs.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

BATCH = 1000


def upgrade() -> None:
    op.create_table(
        "job_references",
        sa.Column("job_id", sa.String(36), sa.ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("value", sa.String(255), primary_key=True),
        sa.Column("source", sa.String(8), nullable=False),
    )
    op.create_index("ix_job_references_value", "job_references", ["value"])
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.add_column(sa.Column("scrubbed_at", sa.DateTime(), nullable=True))
        batch_op.create_index("ix_jobs_state_updated", ["state", "updated_at"], unique=False)
    backfill()


def backfill() -> None:
    from worker import references
    from worker.adapters import ADAPTERS

    bind = op.get_bind()
    jobs = sa.table(
        "jobs", sa.column("id", sa.String), sa.column("provider", sa.String), sa.column("payload", sa.JSON), sa.column("result", sa.JSON)
    )
    table = sa.table("job_references", sa.column("job_id", sa.String), sa.column("value", sa.String), sa.column("source", sa.String))
    after = ""
    while True:
        rows = bind.execute(
            sa.select(jobs.c.id, jobs.c.provider, jobs.c.payload, jobs.c.result).where(jobs.c.id > after).order_by(jobs.c.id).limit(BATCH)
        ).all()
        if not rows:
            return
        found = []
        for job_id, provider, payload, result in rows:
            adapter = ADAPTERS.get(provider)
            if adapter is None:
                continue
            from_payload = references.of_payload(adapter, payload)
            found += [{"job_id": job_id, "value": v, "source": "payload"} for v in sorted(from_payload)]
            found += [{"job_id": job_id, "value": v, "source": "result"} for v in sorted(references.of_result(adapter, result) - from_payload)]
        if found:
            bind.execute(sa.insert(table), found)
        after = rows[-1].id


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.drop_index("ix_jobs_state_updated")
        batch_op.drop_column("scrubbed_at")
    op.drop_index("ix_job_references_value", table_name="job_references")
    op.drop_table("job_references")
