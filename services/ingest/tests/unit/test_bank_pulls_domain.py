"""The pure part of bank pulls: configuration checks, secrets, listing parsing, the cursor,
the schedule and the retry delays. No I/O."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from bankrec.ingest.bank_pull_errors import BankApiResponseInvalid, BankPullInvalid
from bankrec.ingest.domain import SUPPORTED_FORMATS
from bankrec.ingest.domain.bank_pulls import (
    AccountCursor,
    AuthKind,
    BankCredentials,
    ListedStatement,
    PulledFile,
    PullProblem,
    PullRun,
    RunStatus,
    RunTrigger,
    backoff_seconds,
    check_pull_name,
    is_due,
    is_retryable_status,
    mask_secret,
    merge_credentials,
    new_statements,
    next_run_at,
    parse_account_page,
    parse_statement_page,
    retry_after_seconds,
    same_origin,
    shown_url,
    since_param,
    statements_url,
    validate_spec,
)

PAGE = "https://api.bank.example/v1/accounts/a1/statements?since=2026-11-01T00:00:00Z"
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
TOKEN = BankCredentials(AuthKind.BEARER, "tok-0123456789abcdef")


def spec(**changes: Any) -> Any:
    values: dict[str, Any] = {
        "base_url": "https://api.bank.example/v1/",
        "credentials": TOKEN,
        "accounts": ["a1"],
        "statement_format": None,
        "interval_seconds": 3600,
        "fetch_from": None,
        "enabled": True,
        "supported_formats": SUPPORTED_FORMATS,
        "interval_floor_seconds": 300,
        "allow_plain_http": False,
    }
    return validate_spec(**(values | changes))


def listed(statement_id: str, created_at: datetime) -> ListedStatement:
    return ListedStatement(statement_id, created_at, f"https://api.bank.example/f/{statement_id}")


# -- configuration


def test_a_valid_spec_is_normalised() -> None:
    found = spec(
        accounts=["a1", "a2", "a1"],
        fetch_from=datetime(2026, 11, 1, tzinfo=timezone(timedelta(hours=1))),
    )
    assert found.base_url == "https://api.bank.example/v1"
    assert found.accounts == ("a1", "a2")
    assert found.fetch_from == datetime(2026, 10, 31, 23, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        ({"base_url": "http://api.bank.example"}, "base_url", "unencrypted"),
        ({"base_url": "file:///etc/passwd"}, "base_url", "use https"),
        ({"base_url": "https://"}, "base_url", "names no host"),
        ({"base_url": "https://u:p@api.bank.example"}, "base_url", "not in the URL"),
        ({"base_url": "https://api.bank.example/v1?key=1"}, "base_url", "without a query"),
        ({"statement_format": "pdf"}, "statement_format", "camt.053"),
        ({"interval_seconds": 299}, "interval_seconds", "floor of 300 s"),
        ({"fetch_from": datetime(2026, 11, 1)}, "fetch_from", "time zone"),  # noqa: DTZ001
        ({"accounts": ["a"] * 101}, "accounts", "more than 100"),
        ({"accounts": [" "]}, "accounts[0]", "account id"),
        ({"credentials": BankCredentials(AuthKind.BEARER, "a b")}, "auth.token", "white space"),
        ({"credentials": BankCredentials(AuthKind.BEARER, "")}, "auth.token", "required"),
        (
            {"credentials": BankCredentials(AuthKind.BASIC, "pw", "a:b")},
            "auth.username",
            "':'",
        ),
        ({"credentials": BankCredentials(AuthKind.BASIC, "pw")}, "auth.username", "required"),
        (
            {"credentials": BankCredentials(AuthKind.BEARER, "t", "someone")},
            "auth.username",
            "no username",
        ),
    ],
)
def test_an_invalid_spec_names_its_field(changes: dict[str, Any], field: str, says: str) -> None:
    with pytest.raises(BankPullInvalid) as refused:
        spec(**changes)
    assert refused.value.field == field
    assert says in refused.value.message


def test_plain_http_only_when_allowed() -> None:
    assert spec(base_url="http://127.0.0.1:8080/api", allow_plain_http=True).base_url == (
        "http://127.0.0.1:8080/api"
    )


@pytest.mark.parametrize("name", ["nordea", "dnb-corporate.2", "a", "x" * 64])
def test_pull_names(name: str) -> None:
    assert check_pull_name(name) == name


@pytest.mark.parametrize("name", ["", "Nordea", "-x", "a/b", "x" * 65, "a b"])
def test_bad_pull_names(name: str) -> None:
    with pytest.raises(BankPullInvalid, match="name: "):
        check_pull_name(name)


def test_secrets_are_masked_and_never_in_repr() -> None:
    assert mask_secret("tok-0123456789abcdef") == "****cdef"
    assert mask_secret("short-secret") == "****"  # short secrets show nothing
    assert "0123456789" not in repr(TOKEN)
    assert TOKEN.masked_secret == "****cdef"


def test_a_put_without_the_secret_or_with_it_masked_keeps_the_stored_one() -> None:
    assert merge_credentials(AuthKind.BEARER, username=None, secret=None, stored=TOKEN) == TOKEN
    assert (
        merge_credentials(AuthKind.BEARER, username=None, secret="****cdef", stored=TOKEN) == TOKEN
    )
    fresh = merge_credentials(AuthKind.BEARER, username=None, secret="new-token", stored=TOKEN)
    assert fresh.secret == "new-token"


def test_a_new_kind_of_authentication_needs_its_secret() -> None:
    with pytest.raises(BankPullInvalid, match=r"auth\.password: required"):
        merge_credentials(AuthKind.BASIC, username="u", secret=None, stored=TOKEN)
    with pytest.raises(BankPullInvalid, match=r"auth\.token: required"):
        merge_credentials(AuthKind.BEARER, username=None, secret=None, stored=None)


# -- listings


def test_a_listing_as_a_plain_list() -> None:
    page = parse_statement_page(
        [
            {
                "id": "st-1",
                "created_at": "2026-11-20T23:15:02+01:00",
                "download_url": "/v1/files/st-1",
                "format": "camt.053",
                "size_bytes": 1234,
                "filename": "../../etc/stmt 1.xml",
                "vendor_field": {"kept": False},
            }
        ],
        page_url=PAGE,
    )
    [item] = page.items
    assert page.next_url is None
    assert item.statement_id == "st-1"
    assert item.created_at == datetime(2026, 11, 20, 22, 15, 2, tzinfo=UTC)
    assert item.download_url == "https://api.bank.example/v1/files/st-1"
    assert (item.statement_format, item.size_bytes) == ("camt.053", 1234)
    assert item.filename == "stmt 1.xml"  # no path from the bank reaches a record
    assert item.shown_name == "stmt 1.xml"


def test_a_listing_in_pages() -> None:
    page = parse_statement_page({"statements": [], "next": "?page=2"}, page_url=PAGE)
    assert page.next_url == "https://api.bank.example/v1/accounts/a1/statements?page=2"
    last = parse_statement_page({"statements": [], "next": None}, page_url=PAGE)
    assert last.next_url is None


def test_a_next_page_on_another_origin_is_refused() -> None:
    with pytest.raises(BankApiResponseInvalid, match="leaves the bank API's origin"):
        parse_statement_page({"statements": [], "next": "https://evil.example/p2"}, page_url=PAGE)


@pytest.mark.parametrize(
    ("item", "says"),
    [
        ("st-1", "item 0: is not an object"),
        ({"created_at": "2026-11-20T00:00:00Z", "download_url": "/f"}, "'id' is missing"),
        ({"id": "s", "created_at": "2026-11-20T00:00:00", "download_url": "/f"}, "time zone"),
        ({"id": "s", "created_at": "yesterday", "download_url": "/f"}, "'created_at' of 's'"),
        ({"id": "s", "created_at": "2026-11-20T00:00:00Z"}, "'download_url' of 's' is missing"),
        (
            {"id": "s", "created_at": "2026-11-20T00:00:00Z", "download_url": "ftp://x/f"},
            "not an http(s) URL",
        ),
        (
            {
                "id": "s",
                "created_at": "2026-11-20T00:00:00Z",
                "download_url": "/f",
                "size_bytes": "9",
            },
            "'size_bytes' of 's'",
        ),
    ],
)
def test_a_listing_item_off_the_protocol_is_named(item: Any, says: str) -> None:
    with pytest.raises(BankApiResponseInvalid) as refused:
        parse_statement_page([item], page_url=PAGE)
    assert says in refused.value.message


@pytest.mark.parametrize("document", [{"items": []}, "statements", 42, None])
def test_a_listing_that_is_no_listing(document: Any) -> None:
    with pytest.raises(BankApiResponseInvalid, match="neither a JSON list nor an object"):
        parse_statement_page(document, page_url=PAGE)


def test_account_listings() -> None:
    assert parse_account_page(["a1", {"id": "a2", "iban": "x"}], page_url=PAGE).accounts == [
        "a1",
        "a2",
    ]
    with pytest.raises(BankApiResponseInvalid, match="item 1 has no account id"):
        parse_account_page(["a1", {"iban": "x"}], page_url=PAGE)


def test_urls() -> None:
    assert statements_url("https://b.example/v1", "NO93 8601/1") == (
        "https://b.example/v1/accounts/NO93%208601%2F1/statements"
    )
    assert since_param(None) == {}
    assert since_param(datetime(2026, 11, 20, 23, 15, tzinfo=timezone(timedelta(hours=1)))) == {
        "since": "2026-11-20T22:15:00Z"
    }
    assert same_origin("https://b.example/a", "https://b.example:443/b")
    assert not same_origin("https://b.example/a", "http://b.example/a")
    assert not same_origin("https://b.example/a", "https://files.b.example/a")
    assert shown_url("https://u:p@s3.example:9000/f/1?X-Amz-Signature=abc#x") == (
        "https://s3.example:9000/f/1"
    )


# -- the cursor


def test_the_cursor_takes_ties_at_since_into_account() -> None:
    t1, t2 = NOW, NOW + timedelta(hours=1)
    cursor = AccountCursor().advanced(listed("a", t1))
    assert (cursor.since, cursor.statement_ids) == (t1, frozenset({"a"}))
    assert not cursor.is_new(listed("a", t1))
    assert cursor.is_new(listed("b", t1))  # same instant, another statement
    assert not cursor.is_new(listed("z", t1 - timedelta(seconds=1)))
    tied = cursor.advanced(listed("b", t1))
    assert tied.statement_ids == {"a", "b"}
    later = tied.advanced(listed("c", t2))
    assert (later.since, later.statement_ids) == (t2, frozenset({"c"}))
    assert later.advanced(listed("old", t1)) == later  # never moves back


def test_a_cursor_starts_at_fetch_from() -> None:
    cursor = AccountCursor.starting(NOW)
    assert since_param(cursor.since) == {"since": "2026-11-24T12:00:00Z"}
    assert cursor.is_new(listed("a", NOW))
    assert not cursor.is_new(listed("a", NOW - timedelta(days=1)))


def test_validators_apply_only_to_the_listing_they_came_with() -> None:
    cursor = AccountCursor().advanced(listed("a", NOW))
    assert cursor.conditional_headers() == {}
    validated = cursor.validated(etag='"v1"', last_modified="Tue, 24 Nov 2026 12:00:00 GMT")
    assert validated.conditional_headers() == {
        "if-none-match": '"v1"',
        "if-modified-since": "Tue, 24 Nov 2026 12:00:00 GMT",
    }
    moved = validated.advanced(listed("b", NOW + timedelta(minutes=1)))
    assert moved.conditional_headers() == {}  # a new `since` is another listing
    assert AccountCursor().validated(etag='"e"', last_modified=None).conditional_headers() == {
        "if-none-match": '"e"'
    }


def test_the_cursor_survives_json() -> None:
    cursor = (
        AccountCursor()
        .advanced(listed("a", NOW))
        .advanced(listed("b", NOW))
        .validated(etag='"x"', last_modified=None)
    )
    assert AccountCursor.from_json(cursor.as_json()) == cursor


def test_new_statements_come_oldest_first_each_once() -> None:
    t = NOW
    cursor = AccountCursor().advanced(listed("a", t))
    found = new_statements(
        [
            listed("d", t + timedelta(hours=2)),
            listed("a", t),
            listed("c", t + timedelta(hours=1)),
            listed("b", t),
            listed("c", t + timedelta(hours=1)),
        ],
        cursor,
    )
    assert [s.statement_id for s in found] == ["b", "c", "d"]


def test_every_statement_is_fetched_exactly_once_however_the_listings_come() -> None:
    """Invariants, for statements whose created_at never goes back (ties allowed), revealed
    in batches of any size, each run listing everything at or after the cursor's since:
    every statement is fetched once, none twice, and the cursor ends at the newest."""
    seed = random.randrange(2**32)
    print(f"seed={seed}")
    rng = random.Random(seed)
    for _ in range(200):
        moments = sorted(
            NOW + timedelta(seconds=rng.randrange(6)) for _ in range(rng.randrange(1, 15))
        )
        statements = [listed(f"s{i}", moment) for i, moment in enumerate(moments)]
        published: list[ListedStatement] = []
        fetched: list[str] = []
        cursor = AccountCursor()
        while len(published) < len(statements) or rng.random() < 0.3:
            published.extend(statements[len(published) : len(published) + rng.randrange(0, 4)])
            listing = [s for s in published if cursor.since is None or s.created_at >= cursor.since]
            rng.shuffle(listing)  # banks list in any order
            for statement in new_statements(listing, cursor):
                fetched.append(statement.statement_id)
                cursor = cursor.advanced(statement)
        assert sorted(fetched) == sorted(s.statement_id for s in statements), f"seed={seed}"
        assert cursor.since == moments[-1], f"seed={seed}"


# -- the schedule


def test_a_pull_never_run_is_due_now() -> None:
    assert next_run_at(None, interval_seconds=3600, floor_seconds=300) is None
    assert is_due(
        enabled=True,
        last_started_at=None,
        interval_seconds=3600,
        floor_seconds=300,
        leased_until=None,
        now=NOW,
    )


def test_due_after_the_interval_counted_from_the_last_start() -> None:
    started = NOW - timedelta(seconds=3599)
    common: dict[str, Any] = {"enabled": True, "floor_seconds": 300, "leased_until": None}
    assert not is_due(last_started_at=started, interval_seconds=3600, now=NOW, **common)
    assert is_due(
        last_started_at=started, interval_seconds=3600, now=NOW + timedelta(seconds=1), **common
    )


def test_the_floor_wins_over_a_shorter_interval() -> None:
    assert next_run_at(NOW, interval_seconds=60, floor_seconds=300) == NOW + timedelta(seconds=300)


def test_a_disabled_or_running_pull_is_not_due() -> None:
    common: dict[str, Any] = {
        "last_started_at": None,
        "interval_seconds": 3600,
        "floor_seconds": 300,
        "now": NOW,
    }
    assert not is_due(enabled=False, leased_until=None, **common)
    assert not is_due(enabled=True, leased_until=NOW + timedelta(seconds=1), **common)
    assert is_due(enabled=True, leased_until=NOW - timedelta(seconds=1), **common)  # expired


# -- retries


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert retry_after_seconds("7", now=NOW) == 7.0
    assert retry_after_seconds("Tue, 24 Nov 2026 12:00:30 GMT", now=NOW) == 30.0
    assert retry_after_seconds("Tue, 24 Nov 2026 11:00:00 GMT", now=NOW) == 0.0
    assert retry_after_seconds("soon", now=NOW) is None
    assert retry_after_seconds(None, now=NOW) is None


def test_backoff_doubles_up_to_its_cap() -> None:
    assert [backoff_seconds(n, base_seconds=1.0) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert backoff_seconds(10, base_seconds=1.0) == 30.0


@pytest.mark.parametrize(
    ("status", "retried"),
    [(503, True), (429, True), (500, True), (408, True), (401, False), (404, False), (400, False)],
)
def test_which_statuses_are_retried(status: int, retried: bool) -> None:
    assert is_retryable_status(status) is retried


# -- runs


def test_a_run_fails_with_its_first_problem_and_survives_json() -> None:
    run = PullRun(
        trigger=RunTrigger.SCHEDULED,
        started_at=NOW,
        finished_at=NOW + timedelta(seconds=3),
        files=(PulledFile("a1", "st-1", "ing-1", "published"),),
        problems=(PullProblem("too_large", "statement 'st-2' is ...", "a1"),),
        accounts=("a1",),
        files_fetched=1,
    )
    assert run.status is RunStatus.FAILED
    assert run.error == PullProblem("too_large", "statement 'st-2' is ...", "a1")
    assert PullRun.from_json(run.as_json()) == run
    assert PullRun(RunTrigger.MANUAL, NOW, NOW).status is RunStatus.SUCCEEDED
