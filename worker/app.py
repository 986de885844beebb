"""The Celery app: ``celery -A worker.app worker`` works as Celery users expect.

Configured from printrelay's settings at import (``PRINTRELAY_REDIS_URL`` is the broker).
"""

from __future__ import annotations

import logging

from celery import Celery

from config.celery import celery_config
from config.settings import get_settings

# httpx logs every request URL at INFO; the attempt rows already say what was sent.
logging.getLogger("httpx").setLevel(logging.WARNING)

app = Celery("printrelay", include=["tasks.jobs", "tasks.maintenance", "tasks.admin"])
app.config_from_object(celery_config(get_settings()))
