"""The vocabulary of CONTRACT.md: job states and attempt outcomes."""

from __future__ import annotations

from enum import StrEnum

#: Every job kind of CONTRACT.md; each is a Celery task ``printrelay.<kind>``.
JOB_KINDS = ("upload_image", "submit_order", "update_order", "cancel_order", "poll_print_file", "track_order", "update_status")
#: printrelay's own kinds (not enqueued by producers): ``notify`` POSTs a finished job to a URL.
INTERNAL_KINDS = ("notify",)


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    WAITING = "waiting"
    BLOCKED = "blocked"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    NEEDS_REVIEW = "needs_review"
    CANCELED = "canceled"
    SKIPPED = "skipped"

    @property
    def finished(self) -> bool:
        return self in FINISHED


FINISHED = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.NEEDS_REVIEW, JobState.CANCELED, JobState.SKIPPED})
#: States a worker may claim a job from (a ``waiting`` job only once it is due).
CLAIMABLE = frozenset({JobState.QUEUED, JobState.WAITING})


class OutcomeKind(StrEnum):
    """What one attempt came to; decides the job's next state (DESIGN.md, "Waiting, counted")."""

    DONE = "done"
    PENDING = "pending"
    THROTTLED = "throttled"
    TRANSIENT = "transient"
    PERMANENT = "permanent"
    AMBIGUOUS = "ambiguous"
    CRASHED = "crashed"
