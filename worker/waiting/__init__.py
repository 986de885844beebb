"""How long a job waits, and whether it may wait at all: the policy, and the headers it reads."""

from worker.waiting.headers import RateLimitItem, parse_ratelimit, parse_retry_after, reset_from_headers
from worker.waiting.policy import BUILTIN_POLICIES, Decision, Policy, decide, policy_for

__all__ = [
    "BUILTIN_POLICIES",
    "Decision",
    "Policy",
    "RateLimitItem",
    "decide",
    "parse_ratelimit",
    "parse_retry_after",
    "policy_for",
    "reset_from_headers",
]
