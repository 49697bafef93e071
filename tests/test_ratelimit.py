"""The per-operator token bucket (``edgectl/commands/ratelimit.py``): properties over any
sequence of request times, and the shared bucket for ids beyond ``MAX_KEYS``."""

from __future__ import annotations

import itertools
import math

from hypothesis import given
from hypothesis import strategies as st

from edgectl.commands.ratelimit import TELL_EVERY_S, Admission, RateLimiter

gaps = st.lists(st.floats(min_value=0.0, max_value=30.0, allow_nan=False), max_size=300)
rates = st.floats(min_value=0.01, max_value=100.0, allow_nan=False)
bursts = st.integers(min_value=1, max_value=50)


def times(steps: list[float]) -> list[float]:
    out, now = [], 1000.0
    for gap in steps:
        now += gap
        out.append(now)
    return out


@given(gaps, rates, bursts)
def test_admissions_never_exceed_burst_plus_rate_times_elapsed(
    steps: list[float], rate: float, burst: int
) -> None:
    limiter = RateLimiter()
    at = times(steps)
    admitted = [t for t in at if limiter.take("op", rate, burst, t) is Admission.ADMIT]
    if admitted:
        allowed = burst + rate * (admitted[-1] - at[0])
        assert len(admitted) <= math.floor(allowed + 1e-9)


@given(gaps, rates, bursts)
def test_a_refusal_is_answered_at_most_once_per_tell_interval(
    steps: list[float], rate: float, burst: int
) -> None:
    limiter = RateLimiter()
    said = [
        t for t in times(steps) if limiter.take("op", rate, burst, t) is Admission.REFUSE_AND_SAY
    ]
    assert all(b - a >= TELL_EVERY_S for a, b in itertools.pairwise(said))


@given(bursts, rates)
def test_a_fresh_operator_gets_the_whole_burst_and_then_waits(burst: int, rate: float) -> None:
    limiter = RateLimiter()
    outcomes = [limiter.take("op", rate, burst, 5.0) for _ in range(burst + 2)]
    assert outcomes[:burst] == [Admission.ADMIT] * burst
    assert outcomes[burst:] == [Admission.REFUSE_AND_SAY, Admission.DROP]
    assert limiter.take("op", rate, burst, 5.0 + 1.0 / rate + 1e-6) is Admission.ADMIT


def test_one_operators_flood_leaves_anothers_bucket_full() -> None:
    limiter = RateLimiter()
    for _ in range(1000):
        limiter.take("flooder", 1.0, 5, 10.0)
    assert [limiter.take("alice", 1.0, 5, 10.0) for _ in range(5)] == [Admission.ADMIT] * 5


def test_ids_beyond_the_key_limit_share_one_bucket() -> None:
    limiter = RateLimiter()
    limiter.MAX_KEYS = 3
    for key in ("a", "b", "c"):
        assert limiter.take(key, 1.0, 1, 0.0) is Admission.ADMIT
    assert limiter.take("d", 1.0, 1, 0.0) is Admission.ADMIT  # the shared "*" bucket
    assert limiter.take("e", 1.0, 1, 0.0) is Admission.REFUSE_AND_SAY  # same bucket, empty
