"""The shop's HTTP API. Run: `uvicorn shop.api:api` from examples/fastapi_shop (framework importable)."""
from __future__ import annotations

import uuid
from typing import Any

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

from app.Jobs.Job import Job
from app.Queue.QueueManager import queue
from shop.jobs import ConfirmOrderJob

api = FastAPI(title="shop")


class Order(BaseModel):
    email: str
    items: dict[str, int] = Field(min_length=1)


@api.post("/orders", status_code=202)
async def place_order(order: Order) -> dict[str, Any]:
    """Accept an order and confirm it in the background; returns the job id to poll."""
    order_id = uuid.uuid4().hex[:8]
    job_id = await queue.apush(ConfirmOrderJob(order_id, order.items, order.email))
    return {"order_id": order_id, "job_id": job_id}


@api.get("/jobs/{job_id}")
async def job_status(job_id: str) -> dict[str, Any]:
    """The job's state and, once it completed, its result."""
    status = Job.status(job_id)
    if status is None:
        raise HTTPException(404, "unknown job")
    return {"state": str(status.state), "attempts": status.attempts, "result": status.result}
