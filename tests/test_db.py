"""The db unit as Kubernetes receives it, written out by hand: the container postgres runs in, its
probes and volumes, the ConfigMap it reads its pg_hba.conf (and, for md5, its init script) from,
and where its data lives. tests/test_voting_app.py holds how client auth ties them together."""

from __future__ import annotations

import re
from typing import Any

import pulumi

from components.app.args import DbArgs, VotingAppArgs
from components.app.db import ClientAuth, DbStorage, StorageType
from components.units.specs import PullPolicy
from tests.mocks import VotingMocks, unwrap
from tests.test_voting_app import OWN_IMAGES, build, db_config, db_pod

READY = ["pg_isready", "--username", "postgres", "--dbname", "postgres"]
HBA_MD5 = (
    "# Written by voting-app from db.clientAuth = md5; read on every start\n"
    "# (postgres -c hba_file=...), so a change takes effect with the next db pod.\n"
    "# TYPE  DATABASE  USER  ADDRESS       METHOD\n"
    "local   all       all                 trust\n"
    "host    all       all   127.0.0.1/32  trust\n"
    "host    all       all   ::1/128       trust\n"
    "host    all       all   all           md5\n"
)
MD5_SCRIPT = (
    "-- Written by voting-app for db.clientAuth = md5: store the superuser's password as an MD5\n"
    "-- hash, which md5 authentication needs (PostgreSQL 14+ stores SCRAM by default).\n"
    "\\getenv password POSTGRES_PASSWORD\n"
    "SET password_encryption = 'md5';\n"
    "ALTER ROLE CURRENT_USER PASSWORD :'password';\n"
)


def app(db: DbArgs) -> VotingAppArgs:
    return VotingAppArgs(
        namespace="team", db_password=pulumi.Output.secret("pw"), db=db, **OWN_IMAGES
    )


def db_deployment(mocks: VotingMocks) -> dict[str, Any]:
    (deployment,) = (
        unwrap(d.inputs)
        for d in mocks.of_type("kubernetes:apps/v1:Deployment")
        if d.inputs["metadata"]["name"] == "db"
    )
    found: dict[str, Any] = deployment
    return found


def test_the_db_container_with_md5_written_out() -> None:
    mocks, _ = build(
        app(
            DbArgs(
                client_auth=ClientAuth.MD5,
                image_pull_policy=PullPolicy.ALWAYS,
                storage=DbStorage(size="3Gi"),
            )
        )
    )
    config = db_config(mocks)
    name = config["metadata"]["name"]
    # Named by its content (the first 10 hex digits of its hash): a change rolls the db.
    assert re.fullmatch(r"db-config-[0-9a-f]{10}", name), name
    assert config["data"] == {"pg_hba.conf": HBA_MD5, "10-store-password-as-md5.sql": MD5_SCRIPT}
    assert config["metadata"]["labels"]["app.kubernetes.io/component"] == "database"

    pod = db_pod(mocks)
    (container,) = pod["containers"]
    assert container["image"] == "postgres:15.8-alpine"
    assert container["imagePullPolicy"] == "Always"
    assert container["args"] == [
        "postgres",
        "-c",
        "hba_file=/etc/postgresql/voting-app/pg_hba.conf",
        "-c",
        "password_encryption=md5",
    ]
    assert container["ports"] == [{"name": "postgres", "containerPort": 5432, "protocol": "TCP"}]
    assert container["env"] == [
        {"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"},
        {"name": "POSTGRES_HOST_AUTH_METHOD", "value": "md5"},
        {
            "name": "POSTGRES_USER",
            "valueFrom": {"secretKeyRef": {"name": "db-credentials", "key": "username"}},
        },
        {
            "name": "POSTGRES_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": "db-credentials", "key": "password"}},
        },
    ]
    probe = {"exec": {"command": READY}, "timeoutSeconds": 3}
    assert container["readinessProbe"] == {
        **probe,
        "initialDelaySeconds": 5,
        "periodSeconds": 10,
        "failureThreshold": 3,
    }
    assert container["livenessProbe"] == {
        **probe,
        "initialDelaySeconds": 5,
        "periodSeconds": 10,
        "failureThreshold": 6,
    }
    # A first start (initdb) may take up to 2 minutes: 60 tries 2 s apart, from the start.
    assert container["startupProbe"] == {
        **probe,
        "initialDelaySeconds": 0,
        "periodSeconds": 2,
        "failureThreshold": 60,
    }
    assert container["volumeMounts"] == [
        {"name": "data", "mountPath": "/var/lib/postgresql/data"},
        {"name": "run", "mountPath": "/var/run/postgresql"},
        {"name": "tmp", "mountPath": "/tmp"},
        {"name": "config", "mountPath": "/etc/postgresql/voting-app", "readOnly": True},
        {"name": "init", "mountPath": "/docker-entrypoint-initdb.d", "readOnly": True},
    ]
    assert pod["volumes"] == [
        {"name": "data", "emptyDir": {"sizeLimit": "3Gi"}},
        {"name": "run", "emptyDir": {"sizeLimit": "16Mi"}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
        {
            "name": "config",
            "configMap": {"name": name, "items": [{"key": "pg_hba.conf", "path": "pg_hba.conf"}]},
        },
        {
            "name": "init",
            "configMap": {
                "name": name,
                "items": [
                    {
                        "key": "10-store-password-as-md5.sql",
                        "path": "10-store-password-as-md5.sql",
                    }
                ],
            },
        },
    ]
    assert pod["securityContext"] == {
        "runAsUser": 10999,
        "runAsGroup": 10999,
        "fsGroup": 10999,
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }

    deployment = db_deployment(mocks)
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    # Pulled on every start: checkov's pull check passes, and only the data store's and the
    # credentials' exceptions are recorded.
    skipped = {
        value.split("=", 1)[0]
        for key, value in deployment["metadata"]["annotations"].items()
        if key.startswith("checkov.io/skip")
    }
    assert skipped == {"CKV_K8S_43", "CKV_K8S_35"}


def test_the_db_keeps_its_data_in_a_claim_of_the_class_and_size_asked_for() -> None:
    storage = DbStorage(
        type=StorageType.PERSISTENT_VOLUME_CLAIM,
        size="3Gi",
        storage_class="fast",
        retain_on_delete=True,
    )
    mocks, _ = build(app(DbArgs(client_auth=ClientAuth.SCRAM_SHA_256, storage=storage)))
    (claim,) = mocks.of_type("kubernetes:core/v1:PersistentVolumeClaim")
    assert unwrap(claim.inputs)["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "storageClassName": "fast",
        "resources": {"requests": {"storage": "3Gi"}},
    }
    assert any(urn.endswith("PersistentVolumeClaim::voting-db-data") for urn in mocks.retained)
    data = db_pod(mocks)["volumes"][0]
    assert data == {"name": "data", "persistentVolumeClaim": {"claimName": "db-data"}}
    (container,) = db_pod(mocks)["containers"]
    assert container["args"] == [
        "postgres",
        "-c",
        "hba_file=/etc/postgresql/voting-app/pg_hba.conf",
    ]
    assert container["imagePullPolicy"] == "IfNotPresent"  # Kubernetes' own for a pinned tag
    skipped = {
        value.split("=", 1)[0]
        for key, value in db_deployment(mocks)["metadata"]["annotations"].items()
        if key.startswith("checkov.io/skip")
    }
    assert skipped == {"CKV_K8S_43", "CKV_K8S_35", "CKV_K8S_15"}
