"""Run a coroutine as an asyncio app does: on a fresh loop, closing the async facade's clients at the end."""
from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

from app.Queue import aio


def run(coro_fn: Callable[[], Awaitable[Any]]) -> Any:
    """Run `coro_fn()` on a fresh loop and close the facade's clients on it (as an app does at shutdown)."""

    async def main() -> Any:
        try:
            return await coro_fn()
        finally:
            await aio.queue.aclose()

    return asyncio.run(main())
