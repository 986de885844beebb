"""``printrelay``: the command line of CONTRACT.md, one module per command group.

Each module registers its commands on :data:`main` (``_app``) when imported; heavy imports
(SQLAlchemy, Celery, rich) happen inside the commands, so ``--help`` stays quick.
"""

from worker.cli import catalogue, db, enqueue, jobs, limits, processes, providers
from worker.cli._app import EXIT_REFUSED, fail, main

__all__ = ["EXIT_REFUSED", "catalogue", "db", "enqueue", "fail", "jobs", "limits", "main", "processes", "providers"]
