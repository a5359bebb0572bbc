"""after_commit: a job dispatched inside an SQLAlchemy Session transaction is queued on commit, dropped on rollback."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, insert
from sqlalchemy.orm import Session

from app.Jobs.Job import Job
from tests.drivers.conftest import Backend
from tests.fixtures.jobs import NoopJob
from tests.fixtures.parity_jobs import AfterCommitJob

meta = MetaData()
users = Table("users", meta, Column("id", Integer, primary_key=True))


@pytest.fixture
def app_engine(tmp_path: Path):
    """The application's own database (not the queue's)."""
    engine = create_engine(f"sqlite:///{tmp_path / 'app.sqlite'}")
    meta.create_all(engine)
    yield engine
    engine.dispose()


def size(backend: Backend) -> int:
    return backend.manager.size("default", backend.connection)


def test_held_until_commit(backend: Backend, app_engine):
    with Session(app_engine) as session, session.begin():
        session.execute(insert(users).values(id=1))
        job_id = AfterCommitJob().on_connection(backend.connection).dispatch()
        fluent_id = NoopJob().on_connection(backend.connection).after_commit().dispatch()
        plain_id = NoopJob().on_connection(backend.connection).dispatch()
        assert job_id and fluent_id and plain_id
        assert size(backend) == 1  # only the plain job went out at once
    assert size(backend) == 3
    assert Job.status(job_id).state == "pending" and Job.status(fluent_id).state == "pending"


def test_dropped_on_rollback(backend: Backend, app_engine):
    session = Session(app_engine)
    session.begin()
    session.execute(insert(users).values(id=1))
    job_id = AfterCommitJob().on_connection(backend.connection).dispatch()
    session.rollback()
    session.close()
    assert size(backend) == 0 and Job.status(job_id) is None
    with Session(app_engine) as again, again.begin():
        again.execute(insert(users).values(id=2))
    assert size(backend) == 0  # a later commit does not resurrect it


def test_outside_a_transaction_it_is_queued_at_once(backend: Backend):
    AfterCommitJob().on_connection(backend.connection).dispatch()
    assert size(backend) == 1


def test_connection_option_and_before_commit(backend: Backend, app_engine, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(backend.manager.config["connections"][backend.connection], "after_commit", True)
    with Session(app_engine) as session, session.begin():
        NoopJob().on_connection(backend.connection).dispatch()
        NoopJob().on_connection(backend.connection).before_commit().dispatch()
        assert size(backend) == 1
    assert size(backend) == 2


def test_nested_savepoint_waits_for_the_outer_commit(backend: Backend, app_engine):
    with Session(app_engine) as session, session.begin():
        with session.begin_nested():
            AfterCommitJob().on_connection(backend.connection).dispatch()
        assert size(backend) == 0
    assert size(backend) == 1
