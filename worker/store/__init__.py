"""The job store: every job and every attempt, in SQLite (embedded default) or PostgreSQL."""

from worker.store.engine import Store, upgrade
from worker.store.models import Artifact, Attempt, Base, Dependency, Job, JobEvent, JobReference, Memo, ProviderEvent, ProviderPause

__all__ = [
    "Artifact",
    "Attempt",
    "Base",
    "Dependency",
    "Job",
    "JobEvent",
    "JobReference",
    "Memo",
    "ProviderEvent",
    "ProviderPause",
    "Store",
    "upgrade",
]
