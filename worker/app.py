"""The Celery app: ``celery -A worker.app worker`` works as Celery users expect.

Configured from printrelay's settings at import (``PRINTRELAY_REDIS_URL`` is the broker).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery
from celery.signals import worker_process_shutdown, worker_shutdown

from config.celery import celery_config
from config.settings import get_settings

# httpx logs every request URL at INFO; the attempt rows already say what was sent.
logging.getLogger("httpx").setLevel(logging.WARNING)

app = Celery("printrelay", include=["tasks.jobs", "tasks.maintenance", "tasks.admin"])
app.config_from_object(celery_config(get_settings()))


@worker_shutdown.connect
@worker_process_shutdown.connect
def _close_runtime(**_: Any) -> None:
    from worker import runtime

    if runtime._runtime is not None:
        runtime._runtime.close()
