"""Conditions polled with a deadline, instead of sleeping for a fixed time and hoping."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(check: Callable[[], T], timeout_s: float, what: str, every_s: float = 0.05) -> T:
    """`check()`'s first truthy answer; fails with `what` (and the last answer) at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = check()
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s} s: {what} (last: {answer!r})")
        time.sleep(every_s)


def holds_for(check: Callable[[], bool], seconds: float, what: str, every_s: float = 0.1) -> None:
    """`check()` stays true for `seconds` (what must NOT happen, e.g. a job read without a
    broker); fails at the first moment it does not."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert check(), (
            f"{what}: stopped holding after {seconds - (deadline - time.monotonic()):.1f} s"
        )
        time.sleep(every_s)
