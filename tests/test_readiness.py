"""/healthz answers while the process lives; /readyz names the part that is not ready."""

from __future__ import annotations

import uuid

from marketplace import create_app
from marketplace.queue import queue_names, redis_connection
from marketplace.worker import AppWorker, build_scheduler
from tests.conftest import need_service, test_config
from tests.local_servers import free_port


def test_readyz_is_503_naming_the_database_when_postgresql_is_unreachable() -> None:
    app = create_app(test_config(f"postgresql://postgres@127.0.0.1:{free_port()}/test"))
    client = app.test_client()
    assert client.get("/healthz").status_code == 200  # liveness only
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"].startswith("unreachable")


def test_readyz_is_ok_on_the_embedded_defaults(app, client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"] == {"database": "ok", "jobs": "ok"}


def test_readyz_is_503_without_a_worker_and_ok_once_worker_and_scheduler_report(database):
    redis_url = need_service("TEST_REDIS_URL", "the readiness test with Redis")
    prefix = f"test-{uuid.uuid4().hex[:8]}-"
    app = create_app(test_config(database.url, REDIS_URL=redis_url, QUEUE_PREFIX=prefix))
    client = app.test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    checks = response.get_json()["checks"]
    assert checks["database"] == "ok" and checks["redis"] == "ok"
    assert checks["worker"].startswith("no worker")
    assert checks["scheduler"].startswith("the scheduler has not reported")

    worker = AppWorker(queue_names(app), connection=redis_connection(app))
    scheduler = build_scheduler(app)
    worker.register_birth()
    scheduler.register_birth()
    try:
        scheduler.heartbeat()
        response = client.get("/readyz")
        assert response.status_code == 200, response.get_json()
        assert set(response.get_json()["checks"].values()) == {"ok"}
    finally:
        worker.register_death()
        scheduler.register_death()
    assert client.get("/readyz").status_code == 503


def test_readyz_is_503_naming_redis_when_it_is_unreachable(database) -> None:
    app = create_app(test_config(database.url, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"))
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["redis"].startswith("unreachable")
