"""The ORM base of app/Models, with the seed's `session = await Model.get_session()`.

RouteMQ's documents query models through an async SQLAlchemy session::

    session = await Model.get_session()
    result = await session.execute(select(QueueFailedJob).where(QueueFailedJob.queue == "emails"))

Here the session is SQLAlchemy's sync `Session` on the queue's engine (config/database.py),
wrapped so each call is awaited on a worker thread (`asyncio.to_thread`): the same engine,
drivers and transactions as the rest of the framework, and no second database driver.
`Model.session()` gives the plain sync Session.
"""
from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.engine import Result
from sqlalchemy.orm import DeclarativeBase, Session
from app.Queue.QueueManager import manager


class Model(DeclarativeBase):
    """Base of the app's ORM models; they map the queue's Core tables (app/Queue/Database/tables.py)."""

    @classmethod
    def session(cls) -> Session:
        """Open a sync Session on the queue's engine (close it, or use it as a context manager)."""
        return Session(manager().engine(), expire_on_commit=False)

    @classmethod
    async def get_session(cls) -> ThreadedSession:
        """Open a session whose calls are awaited (seed 000's `await Model.get_session()`)."""
        return ThreadedSession(cls.session())


class ThreadedSession:
    """An awaitable face on a sync Session: each call runs on a worker thread, one at a time."""

    def __init__(self, session: Session) -> None:
        self.sync_session = session
        self._lock = asyncio.Lock()  # a Session is not for concurrent use

    async def _run(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        async with self._lock:
            return await asyncio.to_thread(fn, *args, **kwargs)

    async def execute(self, statement: Any, params: Any = None) -> Result[Any]:
        """Run a statement; the result is fully read on the thread, so using it never blocks."""
        def run() -> Result[Any]:
            return self.sync_session.execute(statement, params).freeze()()

        return await self._run(run)  # type: ignore[no-any-return]

    async def scalars(self, statement: Any, params: Any = None) -> Any:
        return (await self.execute(statement, params)).scalars()

    async def get(self, entity: Any, ident: Any) -> Any:
        return await self._run(self.sync_session.get, entity, ident)

    def add(self, instance: Any) -> None:
        self.sync_session.add(instance)

    async def delete(self, instance: Any) -> None:
        await self._run(self.sync_session.delete, instance)

    async def commit(self) -> None:
        await self._run(self.sync_session.commit)

    async def rollback(self) -> None:
        await self._run(self.sync_session.rollback)

    async def close(self) -> None:
        await self._run(self.sync_session.close)

    async def __aenter__(self) -> ThreadedSession:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()
