"""A small HTTP client for the four services' public APIs, used by the demo and e2e tests."""

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


class BankrecClient:
    def __init__(self, config: StackConfig, tenant_id: str, timeout_seconds: float = 30.0) -> None:
        self.config = config
        self.tenant_id = tenant_id
        self._http = httpx.Client(timeout=timeout_seconds)
        self._api_key: str | None = None

    def close(self) -> None:
        self._http.close()

    def _url(self, service: str, path: str) -> str:
        return f"{self.config.base_url(service)}/v1/tenants/{self.tenant_id}{path}"

    def _json(self, service: str, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            raise ServiceCallError(service, response)
        return response.json()

    def get(self, service: str, path: str) -> Any:
        return self._json(service, self._http.get(self._url(service, path)))

    def import_open_items(self, csv_path: Path) -> dict[str, Any]:
        response = self._http.post(
            self._url("ledger", "/open-items/import"),
            content=csv_path.read_bytes(),
            headers={"content-type": "text/csv"},
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
            self._api_key = str(self._json("ingest", response)["api_key"])
        return self._api_key

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
        response = self._http.get(self._url("reconciler", f"/accounts/{account_id}/report.txt"))
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
