"""What the known images' Postgres clients can do, and the db settings they cannot work with.

Facts read from the images' public sources (docs/images.md); an image that
is not listed here is not checked. The config (by key) and VotingApp (by argument) refuse the
same combinations through `client_auth_problems`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from components.app.db import STRONGEST_CLIENT_AUTH, ClientAuth
from components.app.traffic import TRAFFIC_GRAPH

DB_UNIT = "db"


@dataclass(frozen=True)
class DbClient:
    """The Postgres client inside an image. can_use: the db.clientAuth values it logs in with."""

    client: str
    can_use: frozenset[ClientAuth]
    why: str


KNOWN_DB_CLIENTS: Mapping[str, DbClient] = {
    "kodekloud/examplevotingapp_worker:v1": DbClient(
        client="Npgsql 3.1.3 (.NET)",
        can_use=frozenset({ClientAuth.TRUST}),
        why="Npgsql 3.1.3 has no SCRAM (added in 3.2.7), and builds of that era send no "
        "password at all (Server=db;Username=postgres;)",
    ),
    "kodekloud/examplevotingapp_result:v1": DbClient(
        client="node-postgres of unknown version (node 8/10)",
        can_use=frozenset({ClientAuth.TRUST}),
        why="builds of that era connect as postgres://postgres@db/postgres with no password, "
        "and node-postgres gained SCRAM only in 7.9.0",
    ),
}


@dataclass(frozen=True)
class AuthProblem:
    """`unit`'s image cannot log in to a db that asks for `auth`."""

    unit: str
    image: str
    auth: ClientAuth
    client: DbClient

    def allowed(self) -> str:
        return " or ".join(sorted(method.value for method in self.client.can_use))

    def __str__(self) -> str:
        return (
            f"{self.unit} image {self.image} cannot log in with {self.auth.value}: "
            f"{self.client.why}; use {self.allowed()} with this image, or an image whose "
            "client does what the db asks"
        )


def client_auth_problems(auth: ClientAuth, images: Mapping[str, str]) -> list[AuthProblem]:
    """The units (unit -> image, the db's clients) whose known client cannot use `auth`."""
    return [
        AuthProblem(unit=unit, image=image, auth=auth, client=KNOWN_DB_CLIENTS[image])
        for unit, image in images.items()
        if image in KNOWN_DB_CLIENTS and auth not in KNOWN_DB_CLIENTS[image].can_use
    ]


def db_client_images(images: Mapping[str, str]) -> dict[str, str]:
    """The images (unit -> image) of the units that the traffic graph lets dial the db."""
    return {
        edge.source: images[edge.source]
        for edge in TRAFFIC_GRAPH
        if edge.target == DB_UNIT and edge.source in images
    }


def default_client_auth(images: Mapping[str, str]) -> ClientAuth:
    """The strongest method (in ClientAuth's order, strongest first) that every known client
    among `images` (unit -> image, the db's clients) can log in with; the strongest of all when
    none of them is known."""
    for auth in ClientAuth:
        if not client_auth_problems(auth, images):
            return auth
    return STRONGEST_CLIENT_AUTH
