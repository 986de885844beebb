"""The waiting policy and the headers it reads: pure functions, no services."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from worker.outcome import Outcome
from worker.states import JobState, OutcomeKind
from worker.waiting import Policy, decide, parse_ratelimit, parse_retry_after, reset_from_headers

NOW = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)
POLICY = Policy(base=2, factor=2, cap=60, max_attempts=4, deadline=3600, poll_interval=30)


def run(
    outcome: Outcome,
    *,
    budget_used: int = 0,
    deadline: datetime | None = NOW + timedelta(hours=1),
    idempotent: bool = True,
    can_reconcile: bool = False,
    rand: object = None,
) -> object:
    kwargs = {"rand": rand} if rand is not None else {}
    return decide(
        outcome,
        policy=POLICY,
        budget_used=budget_used,
        deadline_at=deadline,
        now=NOW,
        idempotent=idempotent,
        can_reconcile=can_reconcile,
        **kwargs,
    )


class TestRetryAfter:
    def test_delta_seconds(self) -> None:
        assert parse_retry_after("120") == 120.0
        assert parse_retry_after(" 3 ") == 3.0

    def test_http_date_is_rounded_up_never_shorter(self) -> None:
        now = datetime(2026, 11, 23, 12, 0, 0, 400000, tzinfo=UTC)
        # 12:00:10 is 9.6 s away: wait 10, never 9
        assert parse_retry_after("Mon, 23 Nov 2026 12:00:10 GMT", now=now) == 10.0

    def test_http_date_in_the_past_means_now(self) -> None:
        assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=NOW) == 0.0

    @pytest.mark.parametrize("value", [None, "", "soon", "-5", "Mon, 99 Foo"])
    def test_unreadable_is_none(self, value: str | None) -> None:
        assert parse_retry_after(value) is None


class TestRateLimitHeaders:
    def test_policy_and_state_items(self) -> None:
        policy = parse_ratelimit('"default";q=3000;w=60, "uploads";q=5000;w=86400')
        assert [(i.name, i.quota, i.window) for i in policy] == [("default", 3000, 60.0), ("uploads", 5000, 86400.0)]
        state = parse_ratelimit('"default";r=2999;t=1')
        assert (state[0].remaining, state[0].reset) == (2999, 1.0)

    def test_unreadable_items_are_skipped(self) -> None:
        assert [i.name for i in parse_ratelimit('"default";r=1;t=2, ;;garbage==, "x";r=0')] == ["default", "x"]

    def test_reset_prefers_exhausted_buckets_and_reads_both_spellings(self) -> None:
        headers = {"x-ratelimit": '"default";r=5;t=50', "ratelimit": '"uploads";r=0;t=7'}
        assert reset_from_headers(headers) == 7.0
        assert reset_from_headers({"x-ratelimit": '"default";r=5;t=50'}) == 50.0
        assert reset_from_headers({}) is None


class TestDecide:
    def test_done_and_skip(self) -> None:
        assert run(Outcome.done({"a": 1})).state is JobState.SUCCEEDED  # type: ignore[attr-defined]
        assert run(Outcome.skip("no designs")).state is JobState.SKIPPED  # type: ignore[attr-defined]

    def test_permanent_fails_with_the_providers_code(self) -> None:
        decision = run(Outcome.permanent("missing_address", "no address", http_status=400))
        assert (decision.state, decision.error_code) == (JobState.FAILED, "missing_address")  # type: ignore[attr-defined]

    def test_transient_backoff_is_full_jitter_below_the_capped_ceiling(self) -> None:
        ceilings = []
        for used in range(0, 3):
            decision = run(Outcome.transient("http_500", "boom"), budget_used=used, rand=lambda lo, hi: hi)
            ceilings.append((decision.next_attempt_at - NOW).total_seconds())  # type: ignore[attr-defined]
            assert decision.counted  # type: ignore[attr-defined]
        assert ceilings == [2.0, 4.0, 8.0]
        low = run(Outcome.transient("x", "y"), rand=lambda lo, hi: lo)
        assert low.next_attempt_at == NOW  # type: ignore[attr-defined]

    def test_cap(self) -> None:
        policy = Policy(base=10, factor=10, cap=60, max_attempts=50)
        assert policy.backoff(5, rand=lambda lo, hi: hi) == 60

    def test_retry_after_is_a_floor_for_transient(self) -> None:
        decision = run(Outcome.transient("http_503", "x", retry_after=30), rand=lambda lo, hi: hi)
        assert (decision.next_attempt_at - NOW).total_seconds() == 30  # type: ignore[attr-defined]

    def test_exhaustion(self) -> None:
        decision = run(Outcome.transient("http_500", "boom"), budget_used=3)
        assert (decision.state, decision.error_code) == (JobState.FAILED, "retries_exhausted")  # type: ignore[attr-defined]
        assert "HTTP" not in decision.error_message or "boom" in decision.error_message  # type: ignore[attr-defined]

    def test_throttled_waits_exactly_the_retry_after_and_does_not_count(self) -> None:
        decision = run(Outcome.throttled("slow down", retry_after=7), budget_used=3)
        assert decision.state is JobState.WAITING  # type: ignore[attr-defined]
        assert (decision.next_attempt_at - NOW).total_seconds() == 7  # type: ignore[attr-defined]
        assert not decision.counted  # type: ignore[attr-defined]

    def test_pending_uses_retry_after_else_the_poll_interval(self) -> None:
        assert (run(Outcome.pending("merging", retry_after=60)).next_attempt_at - NOW).total_seconds() == 60  # type: ignore[attr-defined]
        assert (run(Outcome.pending("processing")).next_attempt_at - NOW).total_seconds() == 30  # type: ignore[attr-defined]

    def test_a_wait_past_the_deadline_fails_now(self) -> None:
        decision = run(Outcome.throttled("later", retry_after=7200))
        assert (decision.state, decision.error_code) == (JobState.FAILED, "deadline_exceeded")  # type: ignore[attr-defined]

    def test_ambiguous_without_a_way_to_check_goes_to_review(self) -> None:
        decision = run(Outcome.ambiguous("timeout", "no answer"), idempotent=False, can_reconcile=False)
        assert decision.state is JobState.NEEDS_REVIEW  # type: ignore[attr-defined]

    def test_ambiguous_with_a_way_to_check_reconciles(self) -> None:
        decision = run(Outcome.ambiguous("timeout", "no answer"), idempotent=False, can_reconcile=True)
        assert (decision.state, decision.reconcile) == (JobState.WAITING, True)  # type: ignore[attr-defined]

    def test_crash_of_an_idempotent_kind_simply_retries(self) -> None:
        crashed = Outcome(OutcomeKind.CRASHED, error_code="worker_lost", error_message="gone")
        decision = run(crashed, idempotent=True)
        assert (decision.state, decision.reconcile, decision.counted) == (JobState.WAITING, False, True)  # type: ignore[attr-defined]
        assert run(crashed, idempotent=False).state is JobState.NEEDS_REVIEW  # type: ignore[attr-defined]
