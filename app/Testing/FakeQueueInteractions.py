"""Laravel's `withFakeQueueInteractions()`: call a job's handle() in a test and assert what it did to its queue entry.

    job = ProcessPodcast(podcast).with_fake_queue_interactions()
    job.handle()
    job.assert_released(delay=30)

`release`, `delete` and `fail` inside handle() only record what they were asked to do
(nothing is stored), so these assertions read that record.
"""
from __future__ import annotations

import asyncio
import inspect
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.Jobs.Job import Job


class FakeQueueInteractions:
    """A job wrapper: `handle()` runs the job's handle; attribute reads go to the job."""

    def __init__(self, job: Job) -> None:
        object.__setattr__(self, "job", job)
        if not job.attempts:
            job.attempts = 1  # as on a worker's first attempt

    def __getattr__(self, name: str) -> Any:
        return getattr(self.job, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.job, name, value)

    def handle(self) -> Any:
        """Run the job's handle (awaited when it is async); its exceptions propagate."""
        result = self.job.handle()
        if inspect.isawaitable(result):
            result = asyncio.run(_awaited(result))
        return result

    # -- assertions --------------------------------------------------------------------------
    def assert_released(self, delay: float | None = None) -> None:
        """Assert the job called `release()` (with this delay in seconds, when given)."""
        released = self.job._released
        if released is None:
            raise AssertionError(f"Expected {type(self.job).__name__} to be released, but it was not.")
        if delay is not None and float(released) != float(delay):
            raise AssertionError(f"Expected {type(self.job).__name__} to be released with delay {delay:g}s, "
                                 f"but the delay was {released:g}s.")

    def assert_not_released(self) -> None:
        """Assert the job did not call `release()`."""
        if self.job._released is not None:
            raise AssertionError(f"Expected {type(self.job).__name__} not to be released, but it was "
                                 f"(delay {self.job._released:g}s).")

    def assert_deleted(self) -> None:
        """Assert the job called `delete()`."""
        if not self.job._deleted:
            raise AssertionError(f"Expected {type(self.job).__name__} to be deleted, but it was not.")

    def assert_not_deleted(self) -> None:
        """Assert the job did not call `delete()`."""
        if self.job._deleted:
            raise AssertionError(f"Expected {type(self.job).__name__} not to be deleted, but it was.")

    def assert_failed(self, exception: type[BaseException] | str | None = None) -> None:
        """Assert the job called `fail()` (with an exception of this class, or this message, when given)."""
        failed = self.job._failed_with
        name = type(self.job).__name__
        if failed is None:
            raise AssertionError(f"Expected {name} to be failed, but it was not.")
        if isinstance(exception, type) and not isinstance(failed, exception):
            raise AssertionError(f"Expected {name} to fail with {exception.__name__}, but it failed with "
                                 f"{type(failed).__name__}: {failed}.")
        if isinstance(exception, str) and str(failed) != exception:
            raise AssertionError(f"Expected {name} to fail with {exception!r}, but it failed with {str(failed)!r}.")

    def assert_not_failed(self) -> None:
        """Assert the job did not call `fail()`."""
        if self.job._failed_with is not None:
            raise AssertionError(f"Expected {type(self.job).__name__} not to be failed, but it failed with "
                                 f"{type(self.job._failed_with).__name__}: {self.job._failed_with}.")


async def _awaited(awaitable: Any) -> Any:
    return await awaitable
