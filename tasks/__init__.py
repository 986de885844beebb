"""Celery task definitions: thin shells that hand a job id to the engine (``worker``)."""
