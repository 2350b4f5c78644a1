"""The four services' HTTP APIs, called with the tenant's own API key.

The dashboard holds no key of its own and stores none: every call carries the key the
browser sent with its request, so a page can do exactly what the tenant's key allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

import httpx

ServiceName = Literal["ingest", "ledger", "matcher", "reconciler"]


class ServiceCallError(Exception):
    """A service refused a call or could not be reached; ``status`` and ``body`` are what the
    page is answered with (the service's own ``{"error": {...}}`` when it sent one)."""

    def __init__(self, service: str, status: int, body: dict[str, Any]) -> None:
        self.service = service
        self.status = status
        self.body = body
        error = body.get("error") if isinstance(body.get("error"), dict) else {}
        message = (error or {}).get("message") or body.get("detail") or "no message"
        super().__init__(f"{service} answered {status}: {message}")


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


@dataclass(frozen=True, slots=True)
class ServiceUrls:
    ingest: str
    ledger: str
    matcher: str
    reconciler: str

    def of(self, service: ServiceName) -> str:
        return str(getattr(self, service)).rstrip("/")


def segment(value: str) -> str:
    """One path segment, quoted (ids come from the page)."""
    return quote(value, safe="")


class ServiceApis:
    """Calls ``/v1/tenants/{tenant_id}/...`` on a service with the caller's key."""

    def __init__(self, urls: ServiceUrls, *, timeout_seconds: float) -> None:
        self.urls = urls
        self._http = httpx.AsyncClient(
            # a slow service fails the one view that needs it instead of hanging the page
            timeout=httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 3.0)),
            follow_redirects=False,  # an API never redirects; a redirect is a misconfiguration
        )

    async def close(self) -> None:
        await self._http.aclose()

    async def call(
        self,
        service: ServiceName,
        method: str,
        tenant_id: str,
        path: str,
        api_key: str,
        *,
        json: Any = None,
        params: dict[str, str | int] | None = None,
        allow_404: bool = False,
    ) -> Any:
        """The JSON answer; None for a 404 when ``allow_404``; else ServiceCallError."""
        url = f"{self.urls.of(service)}/v1/tenants/{segment(tenant_id)}{path}"
        try:
            response = await self._http.request(
                method,
                url,
                json=json,
                params=params,
                headers={"authorization": f"Bearer {api_key}"},
            )
        except httpx.HTTPError as exc:
            raise ServiceCallError(
                service,
                502,
                error_body(
                    "service_unreachable",
                    f"the {service} service at {self.urls.of(service)} did not answer "
                    f"({type(exc).__name__}); is it running?",
                ),
            ) from exc
        if response.status_code == 404 and allow_404:
            return None
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {}
            if not isinstance(body, dict) or "error" not in body:
                body = error_body("service_error", f"{service}: {response.text[:300]}")
            raise ServiceCallError(service, response.status_code, body)
        return response.json()
