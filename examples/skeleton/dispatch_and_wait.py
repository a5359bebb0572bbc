"""Way in (1): the skeleton is the app. Dispatch the example SendEmailJob and wait for a worker to run it.

    make queue-work QUEUE=emails                                 # one shell
    PYTHONPATH=. .venv/bin/python examples/skeleton/dispatch_and_wait.py   # another
"""
from __future__ import annotations

from app.Jobs.Examples.SendEmailJob import SendEmailJob
from app.Jobs.Job import Job


def main() -> None:
    """Dispatch one email job, wait up to 30 s, print its state and result."""
    job_id = SendEmailJob.dispatch("user@example.com", "Welcome", "Hello!")
    print(f"dispatched {job_id}")
    status = Job.wait(job_id, timeout=30)
    print(f"{status.state}: {status.result}")


if __name__ == "__main__":
    main()
