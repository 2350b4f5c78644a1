"""No secret and no full account number or counterparty name in any service's log.

A statement with an account IBAN, a counterparty IBAN and a counterparty name made up for this
run goes through the four services (processes, their logs as operators read them) as a signed
bank webhook, after its tenant got an API key and a webhook secret; then the key and the
secret are misused on purpose (another tenant's path, a wrong signature, a malformed key) so
the refusal paths log too. None of the secrets, account numbers (IBAN compact or in groups of
four, the BBAN inside it) or the name may appear in any log line; masked forms (``****7947``,
``Z*** Q***``) are what the runtime's ``SensitiveDataFilter`` writes instead.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import time
import uuid
from pathlib import Path

import httpx
import pytest
from http_surface import DEMO

from bankrec.devstack import StackConfig
from bankrec.devstack.client import BankrecClient, wait_until

pytestmark = pytest.mark.integration

SEED = 20261123


def norwegian_iban(rng: random.Random) -> tuple[str, str]:
    """(IBAN, BBAN) of a made-up Norwegian account with valid check digits (MOD11, MOD97)."""
    while True:
        body = "".join(str(rng.randrange(10)) for _ in range(10))
        weights = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
        remainder = sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11
        check = 0 if remainder == 0 else 11 - remainder
        if check != 10:  # no valid account number with this body
            break
    bban = f"{body}{check}"
    digits = int(f"{bban}232400")  # N=23, O=24, check digits 00
    return f"NO{98 - digits % 97:02d}{bban}", bban


def grouped(iban: str) -> str:
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


def test_made_up_ibans_have_valid_check_digits() -> None:
    iban, bban = norwegian_iban(random.Random(SEED))
    rearranged = iban[4:] + iban[:4]
    assert int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1
    assert iban.endswith(bban)
    assert len(bban) == 11


def signed_headers(secret: str, body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return {
        "x-bankrec-timestamp": timestamp,
        "x-bankrec-signature": f"sha256={mac.hexdigest()}",
        "content-type": "application/octet-stream",
    }


def test_no_secret_account_number_or_name_reaches_a_log(security_stack: StackConfig) -> None:
    rng = random.Random(SEED ^ uuid.uuid4().int)  # new values every run; the seed is printed
    seed = rng.randrange(2**32)
    rng = random.Random(seed)
    print(f"seed {seed}")
    account_iban, account_bban = norwegian_iban(rng)
    payer_iban, payer_bban = norwegian_iban(rng)
    payer_name = f"ZYGMUNT QUELLBRANDT {rng.randrange(10**6):06d}"
    tenant_id = f"logs-{uuid.uuid4().hex[:8]}"
    statement = (
        (DEMO / "statement-2026-11.camt053.xml")
        .read_text(encoding="utf-8")
        .replace("NO9386011117947", account_iban)
        .replace("NO8330001234567", payer_iban)
        .replace("OLA NORDMANN", payer_name)
        .encode()
    )
    assert account_iban.encode() in statement
    assert payer_name.encode() in statement

    config = security_stack
    client = BankrecClient(config, tenant_id, key_wait_seconds=60.0)
    ingest = config.base_url("ingest")
    with httpx.Client(timeout=30.0) as http:
        api_key = client.api_key
        admin = {"authorization": f"Bearer {config.admin_token}"}
        secret_answer = http.post(
            f"{ingest}/v1/admin/tenants/{tenant_id}/webhook-secret", headers=admin
        )
        assert secret_answer.status_code == 200, secret_answer.text
        webhook_secret = str(secret_answer.json()["webhook_secret"])
        webhook = f"{ingest}/v1/webhooks/{tenant_id}/statements"

        # the refusal paths, each with a secret in hand
        refused = [
            http.post(webhook, content=statement, headers={**signed_headers("wrong", statement)}),
            http.get(
                f"{config.base_url('ledger')}/v1/tenants/{tenant_id}-other/status",
                headers={"authorization": f"Bearer {api_key}"},
            ),
            http.get(
                f"{config.base_url('reconciler')}/v1/tenants/{tenant_id}/accounts",
                headers={"authorization": f"Bearer {api_key}x"},
            ),
            http.get(
                f"{config.base_url('matcher')}/v1/tenants/{tenant_id}/index",
                headers={"x-api-key": webhook_secret},
            ),
        ]
        assert [r.status_code for r in refused] == [401, 403, 401, 401], [r.text for r in refused]

        accepted = http.post(
            webhook,
            content=statement,
            params={"filename": f"{account_iban}.xml"},
            headers=signed_headers(webhook_secret, statement),
        )
        assert accepted.status_code == 202, accepted.text
        status_url = f"{ingest}{accepted.json()['status_url']}"

        def ingested() -> dict[str, object] | None:
            found = http.get(status_url, headers={"authorization": f"Bearer {api_key}"}).json()
            return found if found["status"] not in ("received", "reading") else None

        status = wait_until(ingested, timeout_seconds=60.0, what="the webhook's file to be read")
        assert status["lines_published"], status
        accounts = wait_until(
            lambda: client.get("reconciler", "/accounts")["accounts"] or None,
            timeout_seconds=60.0,
            what="the reconciler to open the account's period",
        )
        client.wait_for_reconciliation(
            accounts[0]["account_id"], int(str(status["lines_published"]))
        )
    client.close()

    secrets = {
        "API key": api_key,
        "API key secret part": api_key.rsplit("_", 1)[1],
        "webhook secret": webhook_secret,
        "account IBAN": account_iban,
        "account IBAN in groups": grouped(account_iban),
        "account BBAN": account_bban,
        "payer IBAN": payer_iban,
        "payer IBAN in groups": grouped(payer_iban),
        "payer BBAN": payer_bban,
        "payer name": payer_name,
        "payer name (any case)": payer_name.title(),
    }
    logs = sorted(Path(config.state_dir).glob("*.log"))
    assert {p.stem for p in logs} >= {"ingest", "ledger", "matcher", "reconciler"}
    found: list[str] = []
    lines = 0
    for log in logs:
        for number, line in enumerate(
            log.read_text(encoding="utf-8", errors="replace").splitlines(), 1
        ):
            lines += 1
            found.extend(
                f"{log.name}:{number}: {what}: {line[:300]}"
                for what, value in secrets.items()
                if value in line
            )
    tenant_lines = sum(tenant_id in p.read_text(errors="replace") for p in logs)
    print(f"{lines} log lines of {len(logs)} services read, {len(found)} with a secret")
    assert tenant_lines >= 2, "the services logged nothing of this tenant: nothing was tried"
    assert found == [], "\n".join(found[:30])
