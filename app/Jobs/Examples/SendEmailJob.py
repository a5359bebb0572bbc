"""Send one email (the seed's first example); delivery is logged, not sent, until you plug in a mailer."""
from __future__ import annotations

import logging

from app.Jobs.Job import Job

log = logging.getLogger("jobs.SendEmailJob")


class SendEmailJob(Job):
    queue = "emails"
    max_tries = 3
    timeout = 60
    backoff = [10, 30, 60]
    store_result = True  # Job.status(job_id).result / Job.wait(job_id) return handle()'s value

    def __init__(self, to_email: str, subject: str, body: str) -> None:
        super().__init__()
        if "@" not in to_email:
            raise ValueError(f"not an email address: {to_email!r}")
        self.to_email = to_email
        self.subject = subject
        self.body = body

    def handle(self) -> dict[str, str]:
        log.info("sending %r to %s (attempt %d)", self.subject, self.to_email, self.attempts)
        return {"to": self.to_email, "subject": self.subject}

    def failed(self, exception: BaseException) -> None:
        log.error("failed to send email to %s: %s", self.to_email, exception)
