"""The shop's jobs: plain Job subclasses in the shop's own package (allowed by QUEUE_ALLOWED_JOB_MODULES=app.,shop.)."""
from __future__ import annotations

import logging
from typing import Any

from app.Jobs.Job import Job

log = logging.getLogger("shop.jobs")


class ConfirmOrderJob(Job):
    """Price an order and 'send' its confirmation; the total is kept as the job's result."""

    queue = "orders"
    max_tries = 3
    store_result = True

    def __init__(self, order_id: str, items: dict[str, int], email: str) -> None:
        super().__init__()
        self.order_id, self.items, self.email = order_id, items, email

    def handle(self) -> dict[str, Any]:
        prices = {"tea": 350, "cake": 425}
        total = sum(prices.get(name, 0) * count for name, count in self.items.items())
        log.info("order %s confirmed to %s: %d cents", self.order_id, self.email, total)
        return {"order_id": self.order_id, "total_cents": total}
