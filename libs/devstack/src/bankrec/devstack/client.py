"""A small HTTP client for the four services' public APIs, used by the demo and e2e tests.

It issues the tenant an API key through ingest's admin API on first use and sends it with
every call (``Authorization: Bearer <key>``). The other services learn of a key from the
credentials topic a moment after ingest issued it, so before its first call to one of them
the client waits until that service accepts the key (decision 0004).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

from bankrec.devstack.processes import StackConfig

T = TypeVar("T")


class ServiceCallError(RuntimeError):
    """A service answered with an error status."""

    def __init__(self, service: str, response: httpx.Response) -> None:
        self.status_code = response.status_code
        self.body = response.text
        super().__init__(f"{service} answered {response.status_code}: {response.text[:500]}")


class WaitTimeoutError(TimeoutError):
    """What we waited for did not happen in time."""


def wait_until(
    probe: Callable[[], T | None], *, timeout_seconds: float, what: str, interval: float = 0.3
) -> T:
    """Call ``probe`` until it returns something other than None."""
    deadline = time.monotonic() + timeout_seconds
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last is not None:
            return last
        time.sleep(interval)
    raise WaitTimeoutError(f"timed out after {timeout_seconds:.0f}s waiting for {what}")


# A cheap read of each service's tenant API: answered (any status but 401/503) once the
# service knows the tenant's key.
KEY_PROBE_PATHS: dict[str, str] = {
    "ledger": "/status",
    "matcher": "/index",
    "reconciler": "/accounts",
}
KEY_NOT_YET_KNOWN = (401, 503)  # 503 while a service reads the topic; 401 just after


class BankrecClient:
    def __init__(
        self,
        config: StackConfig,
        tenant_id: str,
        timeout_seconds: float = 30.0,
        key_wait_seconds: float = 30.0,
    ) -> None:
        self.config = config
        self.tenant_id = tenant_id
        self._http = httpx.Client(timeout=timeout_seconds)
        self._api_key: str | None = None
        self._key_id: str | None = None
        self._key_wait_seconds = key_wait_seconds
        self._key_known_by: set[str] = {"ingest"}  # ingest checks its own table at once

    def close(self) -> None:
        self._http.close()

    def _url(self, service: str, path: str) -> str:
        return f"{self.config.base_url(service)}/v1/tenants/{self.tenant_id}{path}"

    def _json(self, service: str, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            raise ServiceCallError(service, response)
        return response.json()

    def auth_headers(self, service: str) -> dict[str, str]:
        """The tenant's key as a header, once ``service`` knows it."""
        headers = {"authorization": f"Bearer {self.api_key}"}
        if service not in self._key_known_by:
            self._wait_until_known(service, headers)
        return headers

    def _wait_until_known(self, service: str, headers: dict[str, str]) -> None:
        url = self._url(service, KEY_PROBE_PATHS[service])

        def probe() -> bool | None:
            answered = self._http.get(url, headers=headers).status_code
            return None if answered in KEY_NOT_YET_KNOWN else True

        wait_until(
            probe,
            timeout_seconds=self._key_wait_seconds,
            what=f"{service} to know the API key of tenant {self.tenant_id}",
            interval=0.2,
        )
        self._key_known_by.add(service)

    def get(self, service: str, path: str) -> Any:
        return self._json(
            service, self._http.get(self._url(service, path), headers=self.auth_headers(service))
        )

    def import_open_items(self, csv_path: Path) -> dict[str, Any]:
        response = self._http.post(
            self._url("ledger", "/open-items/import"),
            content=csv_path.read_bytes(),
            headers={"content-type": "text/csv", **self.auth_headers("ledger")},
        )
        result: dict[str, Any] = self._json("ledger", response)
        return result

    def upload_statement(self, path: Path) -> httpx.Response:
        """Upload a statement file; returns the raw response (errors are for the caller)."""
        return self.upload_statement_bytes(path.read_bytes(), filename=path.name)

    @property
    def api_key(self) -> str:
        """The tenant's ingest API key, issued through the admin API on first use."""
        if self._api_key is None:
            response = self._http.post(
                f"{self.config.base_url('ingest')}/v1/admin/tenants/{self.tenant_id}/api-keys",
                headers={"authorization": f"Bearer {self.config.admin_token}"},
                params={"label": "devstack"},
            )
            issued = self._json("ingest", response)
            self._api_key, self._key_id = str(issued["api_key"]), str(issued["key_id"])
        return self._api_key

    @property
    def key_id(self) -> str:
        """The id of the tenant's API key (the credentials topic's Kafka key)."""
        if self._key_id is None:
            _ = self.api_key
        assert self._key_id is not None
        return self._key_id

    def revoke_api_key(self) -> None:
        """Revoke the tenant's key through ingest's admin API (a new one is issued on next use)."""
        response = self._http.delete(
            f"{self.config.base_url('ingest')}/v1/admin/tenants/{self.tenant_id}/api-keys/"
            f"{self.key_id}",
            headers={"authorization": f"Bearer {self.config.admin_token}"},
        )
        if response.status_code >= 400:
            raise ServiceCallError("ingest", response)
        self._api_key = self._key_id = None
        self._key_known_by = {"ingest"}

    def upload_statement_bytes(self, body: bytes, filename: str = "upload") -> httpx.Response:
        return self._http.post(
            self._url("ingest", "/statements"),
            content=body,
            params={"filename": filename},
            headers={
                "content-type": "application/octet-stream",
                "authorization": f"Bearer {self.api_key}",
            },
        )

    def wait_for_matcher_index(self, open_items: int, timeout_seconds: float = 60.0) -> None:
        def probe() -> bool | None:
            index = self.get("matcher", "/index")
            return True if index["open_items"] >= open_items else None

        wait_until(
            probe,
            timeout_seconds=timeout_seconds,
            what=f"the matcher to index {open_items} open items",
        )

    def report(self, account_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.get("reconciler", f"/accounts/{account_id}/report")
        return result

    def report_text(self, account_id: str) -> str:
        response = self._http.get(
            self._url("reconciler", f"/accounts/{account_id}/report.txt"),
            headers=self.auth_headers("reconciler"),
        )
        if response.status_code >= 400:
            raise ServiceCallError("reconciler", response)
        return response.text

    def wait_for_reconciliation(
        self, account_id: str, lines: int, timeout_seconds: float = 90.0
    ) -> dict[str, Any]:
        """Wait until the reconciler has every line, each with its decision and posting."""

        def probe() -> dict[str, Any] | None:
            try:
                report = self.report(account_id)
            except ServiceCallError as exc:
                if exc.status_code == 404:
                    return None
                raise
            decided = report["matched"] + report["in_suspense"] + report["other"]
            done = report["lines"] >= lines and decided >= lines and report["outstanding"] == 0
            return report if done else None

        return wait_until(
            probe,
            timeout_seconds=timeout_seconds,
            what=f"all {lines} lines of account {account_id} to be posted",
        )
