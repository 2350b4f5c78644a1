"""``bankrec-ingest upload``: the file goes to ingest's upload endpoint in chunks (never whole),
with the tenant's key, and a progress bar only when asked for (a terminal, no --quiet). The
server side is an httpx mock transport that records what it was sent: the upload endpoint
itself is tested in the ingest service's own suite."""

from __future__ import annotations

import json
import random
from pathlib import Path

import httpx
import pytest

from bankrec.ingest.cli import UPLOAD_CHUNK_BYTES, main, upload_file

SEED = 7


def statement_file(tmp_path: Path, size: int) -> Path:
    print(f"seed {SEED}")
    path = tmp_path / "big.camt053.xml"
    path.write_bytes(random.Random(SEED).randbytes(size))
    return path


class RecordingIngest(httpx.BaseTransport):
    """Reads the request body chunk by chunk as a server would, and answers 202."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.chunks: list[int] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        body = bytearray()
        for chunk in request.stream:
            self.chunks.append(len(chunk))
            body += chunk
        self.requests.append(
            httpx.Request(request.method, request.url, headers=request.headers, content=bytes(body))
        )
        return httpx.Response(202, json={"ingest_id": "ing-1", "lines": 0})


@pytest.mark.parametrize("progress", [True, False])
def test_a_file_is_streamed_in_chunks_with_a_progress_bar_when_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], progress: bool
) -> None:
    size = 3 * UPLOAD_CHUNK_BYTES + 1000
    path = statement_file(tmp_path, size)
    ingest = RecordingIngest()
    status = upload_file(
        path,
        url="http://ingest.test/",
        tenant_id="acme",
        api_key="brk_test",
        account_number="NO9386011117947",
        progress=progress,
        transport=ingest,
    )
    assert status == 0
    [request] = ingest.requests
    assert request.url.path == "/v1/tenants/acme/statements"
    assert request.url.params["filename"] == "big.camt053.xml"
    assert request.url.params["account"] == "NO9386011117947"
    assert request.headers["authorization"] == "Bearer brk_test"
    assert request.headers["content-length"] == str(size)
    assert request.content == path.read_bytes()
    assert ingest.chunks == [UPLOAD_CHUNK_BYTES] * 3 + [1000]
    out, err = capsys.readouterr()
    assert json.loads(out.splitlines()[-1]) == {"ingest_id": "ing-1", "lines": 0}
    assert ("100%" in err) is progress


def test_without_a_key_or_a_file_it_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nothing.xml"
    assert main(["upload", str(missing), "--tenant", "acme", "--api-key", "brk_x"]) == 2
    assert "cannot read" in capsys.readouterr().err
    path = statement_file(tmp_path, 10)
    assert upload_file(path, url="http://ingest.test", tenant_id="acme", api_key="") == 2
    assert "--api-key or set BANKREC_API_KEY" in capsys.readouterr().err


def test_a_refusal_exits_1_with_ingest_s_answer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = statement_file(tmp_path, 10)
    refusing = httpx.MockTransport(
        lambda _r: httpx.Response(422, json={"error": {"code": "not_xml", "message": "..."}})
    )
    status = upload_file(
        path, url="http://ingest.test", tenant_id="acme", api_key="k", transport=refusing
    )
    assert status == 1
    out, err = capsys.readouterr()
    assert "not_xml" in out
    assert "HTTP 422" in err
