"""dispatch(job, connection=…) in a framework's own transaction (issue 26, item 25): a plain
psycopg 3 connection, a FastAPI route's SQLAlchemy session, and a Django view inside
`transaction.atomic()` (Django's psycopg 3 backend: `connection.connection`). The job exists,
and a worker runs it, only if that transaction commits."""

from __future__ import annotations

import warnings
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from app.queue import batch, chain, dispatch, dispatch_many
from tests.jobs.basic import Record
from tests.support import count, ledger, work


def connect_args(engine: sa.Engine) -> dict[str, Any]:
    """psycopg.connect()'s arguments for the test database (a TCP host, or the embedded
    server's socket directory)."""
    _, kwargs = engine.dialect.create_connect_args(engine.url)
    kwargs.pop("context", None)
    return kwargs


def jobs(engine: sa.Engine) -> int:
    return count(engine, "SELECT count(*) FROM jobs")


def test_dispatch_in_a_psycopg_transaction_exists_only_if_it_commits(queue, engine):
    with psycopg.connect(**connect_args(engine)) as conn:
        with pytest.raises(RuntimeError), conn.transaction():
            dispatch(Record("rolled back"), connection=conn)
            dispatch_many([Record("many"), Record("more")], connection=conn)
            chain([Record("c1"), Record("c2")]).dispatch(connection=conn)
            batch([Record("b1")]).dispatch(connection=conn)
            assert jobs(engine) == 0  # not committed: another connection sees nothing
            raise RuntimeError("the request failed")
        assert jobs(engine) == 0 and count(engine, "SELECT count(*) FROM job_batches") == 0
        with conn.transaction():
            job_id = dispatch(Record("committed"), connection=conn)
            dispatch_many([Record("many")], connection=conn)
            chain([Record("c1"), Record("c2")]).dispatch(connection=conn)
            b = batch([Record("b1")]).dispatch(connection=conn)
            b.add([Record("b2")], connection=conn)
    assert count(engine, "SELECT count(*) FROM jobs WHERE id = :id", id=job_id) == 1
    assert jobs(engine) == 5
    assert work().returncode == 0
    assert sorted({tag for tag, _ in ledger(engine)}) == ["b1", "b2", "c1", "c2", "committed",
                                                         "many"]


def test_a_unique_dispatch_in_a_psycopg_transaction(queue, engine):
    from tests.jobs.unique_and_cancel import UniqueReport

    with psycopg.connect(**connect_args(engine)) as conn, conn.transaction():
        assert dispatch(UniqueReport(1), connection=conn) is not None
        assert dispatch(UniqueReport(1), connection=conn) is None
        assert dispatch_many([UniqueReport(1), UniqueReport(2)], connection=conn)[0] is None
    assert jobs(engine) == 2


def test_something_else_as_connection_is_one_type_error(queue, engine):
    with pytest.raises(TypeError, match="connection= takes a SQLAlchemy Connection or Session "
                                        "or a psycopg 3 connection, not str"):
        dispatch(Record("x"), connection="postgresql://")  # type: ignore[arg-type]
    assert jobs(engine) == 0


# --------------------------------------------------------------------------------- FastAPI

def test_a_fastapi_route_dispatches_in_its_sessions_transaction(queue, engine):
    from collections.abc import Iterator

    from fastapi import Depends, FastAPI

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # starlette's note about httpx2
        from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker

    make_session = sessionmaker(bind=engine)

    def session() -> Iterator[Session]:
        with make_session() as db, db.begin():  # commits if the route returns, else rolls back
            yield db

    api = FastAPI()

    @api.post("/signup/{email}")
    def signup(email: str, db: Session = Depends(session)  # noqa: B008 - FastAPI's way
               ) -> dict[str, str | None]:
        db.execute(sa.text("INSERT INTO ledger (tag, event) VALUES (:email, 'user')"),
                   {"email": email})
        job_id = dispatch(Record(f"welcome {email}"), connection=db)
        if email.startswith("bad"):
            raise ValueError("the signup failed after the dispatch")
        return {"job": job_id}

    with TestClient(api, raise_server_exceptions=False) as client:
        assert client.post("/signup/a@b.c").status_code == 200
        assert client.post("/signup/bad@b.c").status_code == 500
    assert [tag for tag, _ in ledger(engine)] == ["a@b.c"]
    assert jobs(engine) == 1
    assert work().returncode == 0
    assert [tag for tag, _ in ledger(engine)] == ["a@b.c", "welcome a@b.c", "welcome a@b.c"]


# ---------------------------------------------------------------------------------- Django

def configure_django(engine: sa.Engine) -> None:
    import django
    from django.conf import settings

    if settings.configured:
        return
    args = connect_args(engine)
    settings.configure(
        DATABASES={"default": {
            "ENGINE": "django.db.backends.postgresql", "NAME": args["dbname"],
            "USER": args.get("user", ""), "PASSWORD": args.get("password", ""),
            "HOST": args.get("host", ""), "PORT": str(args.get("port", ""))}},
        USE_TZ=True, INSTALLED_APPS=[])
    django.setup()


def test_a_django_view_dispatches_inside_transaction_atomic(queue, engine):
    configure_django(engine)
    from django.db import connection, transaction
    from django.http import HttpRequest, HttpResponse
    from django.test import RequestFactory

    def signup(request: HttpRequest, email: str) -> HttpResponse:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("INSERT INTO ledger (tag, event) VALUES (%s, 'user')", [email])
            dispatch(Record(f"welcome {email}"), connection=connection.connection)
            if email.startswith("bad"):
                raise ValueError("the signup failed after the dispatch")
        return HttpResponse(status=201)

    assert connection.vendor == "postgresql"
    try:
        assert signup(RequestFactory().post("/signup"), "a@b.c").status_code == 201
        assert isinstance(connection.connection, psycopg.Connection)  # psycopg 3's backend
        with pytest.raises(ValueError):
            signup(RequestFactory().post("/signup"), "bad@b.c")
    finally:
        connection.close()
    assert [tag for tag, _ in ledger(engine)] == ["a@b.c"]
    assert jobs(engine) == 1
    assert work().returncode == 0
    assert [tag for tag, _ in ledger(engine)][1:] == ["welcome a@b.c", "welcome a@b.c"]
