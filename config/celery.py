"""Celery configuration derived from printrelay's settings.

Choices that matter:

- ``task_acks_late`` + ``task_reject_on_worker_lost``: a message is acked only after the job's
  attempt is recorded, so a killed worker's message is delivered again (the claim makes that
  harmless).
- JSON only: task arguments are job ids (and, for ``send_task`` intake, a producer's payload).
- One queue per provider (``printrelay.<provider>``) besides ``printrelay`` (intake, admin,
  maintenance): a slow provider cannot starve the others' workers.
- ``worker_prefetch_multiplier=1``: each thread holds at most one message beyond the one it runs,
  so a crash strands little and long calls don't hoard work.
- ``visibility_timeout`` is an hour: countdowns longer than it would be redelivered by Redis and
  run twice, which is why printrelay sends only short waits (``countdown_max``) as countdowns.
- Redis may go away (a restart, a failover): workers reconnect for as long as it takes
  (``broker_connection_max_retries=None``; Celery's default gives up after 100 tries and the
  worker exits), and socket timeouts make a silent broker (no reset, a partition) an error
  after seconds instead of a publish that hangs forever.
"""

from __future__ import annotations

from typing import Any

from kombu import Queue  # type: ignore[attr-defined]

from config.providers import PROVIDERS
from config.settings import Settings

DEFAULT_QUEUE = "printrelay"
VISIBILITY_TIMEOUT = 3600
#: A broker that does not answer a command within this many seconds is taken for gone (kombu's
#: BRPOP waits 1 s at a time, well within it).
BROKER_SOCKET_TIMEOUT = 10.0


def queue_for(provider: str) -> str:
    return f"{DEFAULT_QUEUE}.{provider}"


def all_queues() -> list[str]:
    return [DEFAULT_QUEUE, *(queue_for(p) for p in PROVIDERS)]


def celery_config(settings: Settings) -> dict[str, Any]:
    return {
        "broker_url": settings.redis_url,
        "broker_connection_retry_on_startup": True,
        "broker_connection_retry": True,
        "broker_connection_max_retries": None,
        "broker_transport_options": {
            "visibility_timeout": VISIBILITY_TIMEOUT,
            "socket_timeout": BROKER_SOCKET_TIMEOUT,
            "socket_connect_timeout": 3,
            "socket_keepalive": True,
        },
        "result_backend": None,
        "task_ignore_result": True,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_default_queue": DEFAULT_QUEUE,
        "task_queues": [Queue(name) for name in all_queues()],  # type: ignore[no-untyped-call]
        "task_create_missing_queues": True,
        "worker_prefetch_multiplier": 1,
        # The threads pool's ETA timer sleeps up to this long between schedule checks and a new
        # countdown does not wake it: at the default (1 s) a Retry-After was overshot by 1.46 s
        # (median, 200 throttled jobs); at 0.05 s see bench/punctuality.py.
        "worker_timer_precision": 0.05,
        "worker_send_task_events": True,
        "task_send_sent_event": True,
        # Soft shutdown: on a warm stop, running attempts get this long to finish and record
        # before the worker exits; what is left is redelivered (acks late) or recovered (lease).
        "worker_soft_shutdown_timeout": 30.0,
        "worker_enable_soft_shutdown_on_idle": True,
        "timezone": "UTC",
        "enable_utc": True,
        "beat_schedule": {
            # Due waits are found within a second; lost workers within a quarter lease; lost
            # messages within half the requeue delay.
            "dispatch-due": {"task": "printrelay.maintenance.dispatch_due", "schedule": 1.0, "options": {"expires": 5}},
            "recover-stale": {
                "task": "printrelay.maintenance.recover_stale",
                "schedule": min(15.0, settings.lease_seconds / 4),
                "options": {"expires": 30},
            },
            "requeue-lost": {
                "task": "printrelay.maintenance.requeue_lost",
                "schedule": min(30.0, settings.requeue_after / 2),
                "options": {"expires": 60},
            },
            # Ends the worker that made them did not announce (see worker.notify): within seconds.
            "notify-pending": {"task": "printrelay.maintenance.notify_pending", "schedule": 5.0, "options": {"expires": 10}},
            # Copies of the providers' catalogues (worker.catalogue): refetched once a day; the
            # hourly tick also fetches a missing copy soon after a new account appears.
            "refresh-catalogues": {"task": "printrelay.maintenance.refresh_catalogues", "schedule": 3600.0, "options": {"expires": 600}},
            # Forgetting finished jobs by age (worker.retention): hourly, in bounded batches.
            "retention": {"task": "printrelay.maintenance.retention", "schedule": 3600.0, "options": {"expires": 600}},
            "release-stuck": {
                "task": "printrelay.maintenance.release_stuck",
                "schedule": min(30.0, settings.requeue_after / 2),
                "options": {"expires": 60},
            },
        },
    }
