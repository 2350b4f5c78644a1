"""Liveness and readiness: ``GET /health/live`` and ``GET /health/ready``.

Live means the process answers (an orchestrator restarts it when it does not); ready means
it can do its work now: the Kafka broker answers and the database takes a query. Readiness
asks both each time (each bounded by ``CHECK_TIMEOUT_SECONDS``), so a broker lost after
start-up takes the instance out of a load balancer. A service's own ``/health`` stays as
it was (it also reports service-specific state, e.g. the matcher's index).
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

CHECK_TIMEOUT_SECONDS = 2.0


class Liveness(BaseModel):
    status: str = Field(examples=["alive"])


class Readiness(BaseModel):
    status: str = Field(description="ready, or not_ready (then 503)", examples=["ready"])
    checks: dict[str, str] = Field(
        description="Each dependency: ok, or why it is not reachable",
        examples=[{"broker": "ok", "database": "ok"}],
    )


async def broker_check(broker: Any) -> str:
    """``ok`` when the Kafka broker answers a metadata request."""
    try:
        answered = await broker.ping(timeout=CHECK_TIMEOUT_SECONDS)
    except Exception as exc:  # any failure is "not ready", with its reason
        return f"unreachable: {type(exc).__name__}: {exc}"[:300]
    return "ok" if answered else "unreachable: not connected or no answer"


async def database_check(engine: AsyncEngine) -> str:
    """``ok`` when the database answers ``SELECT 1``."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    except TimeoutError:
        return f"unreachable: no answer in {CHECK_TIMEOUT_SECONDS:.0f} s"
    except Exception as exc:
        return f"unreachable: {type(exc).__name__}: {str(exc)[:200]}"
    return "ok"


def install_health_routes(app: FastAPI, broker: Any, *, engine: AsyncEngine | None) -> None:
    """``/health/live`` and ``/health/ready``; ``engine`` None for a service without a database
    (the matcher), whose readiness is then the broker's alone."""
    router = APIRouter(tags=["health"])

    @router.get("/health/live")
    async def live() -> Liveness:
        """200 while the process serves requests."""
        return Liveness(status="alive")

    @router.get(
        "/health/ready",
        responses={503: {"model": Readiness, "description": "a dependency is not reachable"}},
    )
    async def ready() -> JSONResponse:
        """200 when the broker (and the database, if the service has one) answer; 503 with
        which one does not."""
        names = ["broker"]
        checks = [broker_check(broker)]
        if engine is not None:
            names.append("database")
            checks.append(database_check(engine))
        results = dict(zip(names, await asyncio.gather(*checks), strict=True))
        is_ready = all(result == "ok" for result in results.values())
        body = Readiness(status="ready" if is_ready else "not_ready", checks=results)
        return JSONResponse(body.model_dump(), status_code=200 if is_ready else 503)

    app.include_router(router)
