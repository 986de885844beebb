"""A producer's printrelay: the job store, the intake and a publisher, and nothing of a worker.

``printrelay enqueue`` runs once per job in many a shell loop; building the whole runtime (runner,
heartbeat, circuit, metrics, the notifier's models) for it cost more than the enqueue itself.

    >>> producer.intake().enqueue("track_order", "printeers", {"order_reference": "Order_…"})   # doctest: +SKIP
"""

from __future__ import annotations

from config.settings import Settings, get_settings
from worker.adapters import ADAPTERS
from worker.intake import Intake
from worker.publishing import CeleryPublisher
from worker.store import Store


def intake(settings: Settings | None = None) -> Intake:
    """An intake on the process's settings (``settings`` to choose), publishing with Celery."""
    settings = settings or get_settings()
    return Intake(Store(settings.database_url, pool_size=2), settings, ADAPTERS, CeleryPublisher())
