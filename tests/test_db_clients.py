"""What the db's known clients can do, and how a combination they cannot work with is told."""

from __future__ import annotations

from components.app.db import ClientAuth
from components.app.db_clients import (
    KNOWN_DB_CLIENTS,
    AuthProblem,
    DbClient,
    client_auth_problems,
    db_client_images,
)

OLD_CLIENT = DbClient(
    client="libpq 9.6", can_use=frozenset({ClientAuth.TRUST, ClientAuth.MD5}), why="no SCRAM yet"
)


def test_a_problem_names_the_unit_image_method_why_and_every_way_out() -> None:
    problem = AuthProblem(
        unit="worker", image="example/worker:1", auth=ClientAuth.SCRAM_SHA_256, client=OLD_CLIENT
    )
    assert problem.allowed() == "md5 or trust"
    assert str(problem) == (
        "worker image example/worker:1 cannot log in with scram-sha-256: no SCRAM yet; use md5 or"
        " trust with this image, or an image whose client does what the db asks"
    )


def test_only_the_known_clients_that_cannot_use_the_method_are_problems() -> None:
    (stock_worker, stock_result) = KNOWN_DB_CLIENTS
    images = {"worker": stock_worker, "result": stock_result, "other": "example/other:1"}
    problems = client_auth_problems(ClientAuth.MD5, images)
    assert [(p.unit, p.image, p.auth) for p in problems] == [
        ("worker", stock_worker, ClientAuth.MD5),
        ("result", stock_result, ClientAuth.MD5),
    ]
    assert [p.client for p in problems] == [
        KNOWN_DB_CLIENTS[stock_worker],
        KNOWN_DB_CLIENTS[stock_result],
    ]
    assert client_auth_problems(ClientAuth.TRUST, images) == []


def test_the_db_s_clients_are_the_units_the_graph_lets_dial_it() -> None:
    images = {unit: f"example/{unit}:1" for unit in ("vote", "redis", "worker", "db", "result")}
    # worker -> db and result -> db are the traffic graph's edges into db.
    assert db_client_images(images) == {"worker": "example/worker:1", "result": "example/result:1"}
    assert db_client_images({"worker": "example/worker:1"}) == {"worker": "example/worker:1"}
