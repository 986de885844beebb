"""Rate-limit buckets shared by every worker on every machine, kept in Redis.

Celery's ``rate_limit`` is per worker process: N workers send N times the rate. These
buckets are global per (provider, account, bucket name).
"""

from worker.ratelimit.limiter import Bucket, Limiter

__all__ = ["Bucket", "Limiter"]
