"""``bankrec-matcher run``: the matcher on files, without a broker: a statement in any format
ingest reads, open items in the ledger's CSV import format, one JSON decision per line.

Services never import each other, so the files are read by the other services' own
commands, run as child processes from the same virtual environment: ``bankrec-ingest parse
FILE --tenant T`` (its JSON lines: statement headers and ``StatementLine`` payloads) and
``bankrec-ledger open-items FILE`` (one ``OpenItem`` per line), side by side. Their
diagnostics are passed through to stderr; when either fails, the run stops with
``OfflineRunError`` naming the file (both files, when both fail).
The lines then go, in file order, through exactly the engine the service runs
(``MatchEngine.decide`` over one ``OpenItemIndex`` holding the items).

Matching settings (``--settings FILE``, TOML, top-level keys; each optional, defaults from
``MatchingPolicy``) are the keys of ``MATCHING_SETTINGS``:

- ``auto_confirm`` (true/false): off, every proof becomes a proposal for a person;
- ``auto_confirm_threshold`` (decimal 0..1): a less confident proof becomes a proposal;
- ``date_tolerance_days`` (integer >= 0): how far a line's date may be from an item's dates;
- ``amount_tolerance`` (decimal >= 0, major units) and ``amount_tolerance_percent``
  (decimal >= 0): how far an amount may differ and still count as equal;
- ``name_similarity_threshold`` and ``text_similarity_threshold`` (integer 1..100): how alike
  counterparty names, and texts and document numbers, must be.

- ``reversal_tolerance_days`` (integer 0..90): how many days a reversal may follow its line.

Decimals may be written as TOML numbers (read exactly, never as binary floats) or strings.

Posting rules (``--posting-rules FILE``): a JSON list of ``PostingRule`` objects (the
ledger's posting-rules topic payloads: rule_id, version, name, priority, conditions, action,
status, changed_at), put in the tenant's rule book before the first line (the newest
version of a rule wins, a deleted one is left out), exactly as the service keeps them.

Reversal pairs: the run works on the whole statement, so a line and the later line that
reverses it are ONE decision (``reversal_pair``) printed where the reversing line is: its
``bank_reference`` is the list [reversing line's, earlier line's], ``line_id`` the reversing
line's, ``paired_line_id`` and ``line_ids`` name both; the earlier line gets no record of
its own. Every line is covered by exactly one record (``covers_lines`` says how many).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, ClassVar

from pydantic import ValidationError

from bankrec.contracts import DecisionKind, MatchDecision, OpenItem, PostingRule, StatementLine
from bankrec.matcher.domain import MatchEngine, OpenItemIndex
from bankrec.matcher.domain.policy import DEFAULT_POLICY, MatchingPolicy, PolicyError
from bankrec.matcher.domain.rules.reversal_pair import ReversalPairRule
from bankrec.matcher.errors import MatcherError

OFFLINE_TENANT = "local"  # ingest's default tenant: line and account ids are derived for it
INGEST_COMMAND = ("bankrec-ingest", "bankrec.ingest.cli")
LEDGER_COMMAND = ("bankrec-ledger", "bankrec.ledger.cli")
STATEMENT_LINE_TYPE = "statement.line.received"

MATCHING_SETTINGS: dict[str, str] = {
    "auto_confirm": "true or false",
    "auto_confirm_threshold": "a decimal from 0 to 1",
    "date_tolerance_days": "an integer, 0 or more",
    "amount_tolerance": "a decimal, 0 or more (major units of the line's currency)",
    "amount_tolerance_percent": "a decimal, 0 or more",
    "name_similarity_threshold": "an integer from 1 to 100",
    "text_similarity_threshold": "an integer from 1 to 100",
    "reversal_tolerance_days": "an integer from 0 to 90",
}
"""The keys a settings file may hold, with what each takes (the fields of MatchingPolicy)."""

SettingValue = bool | int | Decimal


class OfflineRunError(MatcherError):
    """A file the offline run cannot use; the message names it and says what went wrong."""

    code: ClassVar[str] = "offline_run_failed"


class MatchingSettingsError(OfflineRunError):
    """A matching-settings file with an unknown key or a value the policy cannot take."""

    code: ClassVar[str] = "invalid_matching_settings"


# ------------------------------------------------------------------------------ settings


def read_matching_settings(path: Path) -> dict[str, SettingValue]:
    """The settings of a TOML file, each checked against ``MATCHING_SETTINGS``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MatchingSettingsError(f"cannot read settings {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise MatchingSettingsError(f"settings {path} is not UTF-8 text") from exc
    try:
        document = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise MatchingSettingsError(f"settings {path} is not valid TOML: {exc}") from exc
    return matching_settings(document, source=str(path))


def matching_settings(document: dict[str, Any], *, source: str) -> dict[str, SettingValue]:
    """The settings of a parsed document, each of the type its ``MatchingPolicy`` field has."""
    unknown = sorted(set(document) - set(MATCHING_SETTINGS))
    if unknown:
        raise MatchingSettingsError(
            f"settings {source}: unknown key(s) {', '.join(unknown)}; the keys are "
            + ", ".join(MATCHING_SETTINGS)
        )
    defaults = {field.name: field.default for field in fields(MatchingPolicy)}
    settings: dict[str, SettingValue] = {}
    for key, value in document.items():
        settings[key] = _setting(key, value, defaults[key], source)
    return settings


def _setting(key: str, value: object, default: object, source: str) -> SettingValue:
    wrong = MatchingSettingsError(
        f"settings {source}: {key} = {value!r} is not {MATCHING_SETTINGS[key]}"
    )
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise wrong
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong
        return value
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise wrong
    try:
        number = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except InvalidOperation:
        raise wrong from None
    if not number.is_finite():
        raise wrong
    return number


def matching_policy(settings: dict[str, SettingValue], *, source: str) -> MatchingPolicy:
    """The tenant's policy with the settings given (the others at their defaults)."""
    try:
        return MatchingPolicy(**settings)  # type: ignore[arg-type]
    except PolicyError as exc:
        raise MatchingSettingsError(f"settings {source}: {exc}") from exc


# ------------------------------------------------------------------------- the files


def service_command(script: str, module: str) -> list[str]:
    """The console script next to this interpreter (the same virtual environment), or
    ``python -m`` of its module when the script is not installed there."""
    beside = Path(sys.executable).with_name(script)
    if beside.is_file():
        return [str(beside)]
    return [sys.executable, "-m", module]


@dataclass(frozen=True, slots=True)
class _ServiceRun:
    """A child process reading one of the files."""

    process: subprocess.Popen[str]
    label: str  # the command as a person would type it
    what: str  # which file it reads, for messages
    path: Path

    @classmethod
    def start(cls, command: list[str], label: str, what: str, path: Path) -> _ServiceRun:
        try:
            process = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        except OSError as exc:
            raise OfflineRunError(f"{what} {path}: cannot start {label}: {exc}") from exc
        return cls(process, label, what, path)

    def output(self) -> str:
        """Its stdout once it has finished; its stderr goes to ours; a failure names the file."""
        out, err = self.process.communicate()
        if err:
            sys.stderr.write(err)
        if self.process.returncode != 0:
            raise OfflineRunError(
                f"{self.what} {self.path}: {self.label} failed with exit code "
                f"{self.process.returncode} (its messages are above)"
            )
        return out


def _ingest(path: Path, tenant_id: str) -> _ServiceRun:
    command = [*service_command(*INGEST_COMMAND), "parse", str(path), "--tenant", tenant_id]
    return _ServiceRun.start(command, "bankrec-ingest parse", "statement", path)


def _ledger(path: Path) -> _ServiceRun:
    command = [*service_command(*LEDGER_COMMAND), "open-items", str(path)]
    return _ServiceRun.start(command, "bankrec-ledger open-items", "open items", path)


def statement_lines_of(output: str, path: Path) -> list[StatementLine]:
    """The ``StatementLine`` payloads of ``bankrec-ingest parse`` output, in order."""
    lines: list[StatementLine] = []
    for number, text in enumerate(output.splitlines(), start=1):
        try:
            message = json.loads(text)
            if message.get("type") == STATEMENT_LINE_TYPE:
                lines.append(StatementLine.model_validate(message["payload"]))
        except (ValueError, KeyError, AttributeError, ValidationError) as exc:
            raise OfflineRunError(
                f"statement {path}: output line {number} of bankrec-ingest is not a message: {exc}"
            ) from exc
    return lines


def open_items_of(output: str, path: Path) -> list[OpenItem]:
    """The ``OpenItem`` lines of ``bankrec-ledger open-items`` output, in order."""
    items: list[OpenItem] = []
    for number, text in enumerate(output.splitlines(), start=1):
        try:
            items.append(OpenItem.model_validate_json(text))
        except ValidationError as exc:
            raise OfflineRunError(
                f"open items {path}: output line {number} of bankrec-ledger is not an open "
                f"item: {exc}"
            ) from exc
    return items


def read_statement_lines(path: Path, tenant_id: str = OFFLINE_TENANT) -> list[StatementLine]:
    """The statement lines of a file, as ingest reads them, in file order."""
    return statement_lines_of(_ingest(path, tenant_id).output(), path)


def read_open_items(path: Path) -> list[OpenItem]:
    """The open items of a CSV file in the ledger's import format, as the ledger reads them."""
    return open_items_of(_ledger(path).output(), path)


def read_files(
    statement: Path, open_items: Path, tenant_id: str = OFFLINE_TENANT
) -> tuple[list[StatementLine], list[OpenItem]]:
    """Both files at once (the two commands run side by side); every failure is reported."""
    ledger = _ledger(open_items)
    try:
        ingest = _ingest(statement, tenant_id)
    except OfflineRunError:
        ledger.process.kill()
        ledger.process.communicate()
        raise
    outputs: dict[str, str] = {}
    failures: list[str] = []
    for child in (ledger, ingest):
        try:
            outputs[child.what] = child.output()
        except OfflineRunError as exc:
            failures.append(exc.message)
    if failures:
        raise OfflineRunError("; ".join(failures))
    return (
        statement_lines_of(outputs[ingest.what], statement),
        open_items_of(outputs[ledger.what], open_items),
    )


# ---------------------------------------------------------------------------- the run


def read_posting_rules(path: Path) -> list[PostingRule]:
    """The posting rules of a JSON file: a list of ``PostingRule`` objects."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise OfflineRunError(f"cannot read posting rules {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise OfflineRunError(f"posting rules {path} is not JSON: {exc}") from exc
    if not isinstance(document, list):
        raise OfflineRunError(f"posting rules {path}: expected a JSON list of posting rules")
    rules: list[PostingRule] = []
    for number, rule in enumerate(document):
        try:
            rules.append(PostingRule.model_validate(rule))
        except ValidationError as exc:
            raise OfflineRunError(
                f"posting rules {path}: rule {number} is not a posting rule: {exc}"
            ) from exc
    return rules


def reversal_pairs_in(
    tenant_id: str,
    lines: Sequence[StatementLine],
    policy: MatchingPolicy | None = None,
) -> dict[str, str]:
    """Reversing line id -> the earlier line of the file it reverses, found by the engine's
    own reversal rule over the file in order (the first pass of ``decide_lines``)."""
    engine = MatchEngine((ReversalPairRule(),))
    index = OpenItemIndex()
    pairs: dict[str, str] = {}
    for line in lines:
        decision = engine.decide(tenant_id, line, index, policy or DEFAULT_POLICY)
        if decision.kind is DecisionKind.REVERSAL_PAIR and decision.paired_line_id:
            pairs[line.line_id] = decision.paired_line_id
    return pairs


def decide_lines(
    tenant_id: str,
    lines: Sequence[StatementLine],
    items: Sequence[OpenItem],
    policy: MatchingPolicy | None = None,
    engine: MatchEngine | None = None,
    posting_rules: Sequence[PostingRule] = (),
    *,
    pairs: dict[str, str] | None = None,
) -> Iterator[MatchDecision]:
    """One decision per line, in order, by the engine over one index holding the items and
    the posting rules; an earlier line of a reversal pair in ``pairs`` (see
    ``reversal_pairs_in``) is only remembered, its pair's decision covers it."""
    engine = engine or MatchEngine()
    policy = policy or DEFAULT_POLICY
    index = OpenItemIndex()
    for item in items:
        index.apply(item)
    for rule in posting_rules:
        index.posting_rules.apply(rule)
    reversed_lines = set((pairs or {}).values())
    for line in lines:
        if line.line_id in reversed_lines:
            index.recent_lines.remember(line)  # decided with its reversal
            continue
        yield engine.decide(tenant_id, line, index, policy)


def decision_record(
    decision: MatchDecision, line: StatementLine, paired: StatementLine | None = None
) -> dict[str, Any]:
    """What ``run`` prints for a decision: the line's bank reference (both lines' for a
    reversal pair), the decision's kind, items, rule, confidence and explanation."""
    bank_reference: str | list[str | None] | None = line.bank_reference
    line_ids = [line.line_id]
    if decision.kind is DecisionKind.REVERSAL_PAIR:
        bank_reference = [line.bank_reference, paired.bank_reference if paired else None]
        if paired is not None:
            line_ids.append(paired.line_id)
    return {
        "bank_reference": bank_reference,
        "line_id": line.line_id,
        "statement_id": line.statement_id,
        "booking_date": line.booking_date.isoformat() if line.booking_date else None,
        "amount": format(line.amount.amount, "f"),
        "currency": line.amount.currency,
        "decision": decision.kind.value,
        "item_ids": [allocation.item_id for allocation in decision.allocations],
        "allocations": [
            {"item_id": a.item_id, "amount": format(a.amount.amount, "f")}
            for a in decision.allocations
        ],
        "proposed_item_ids": [proposal.item_id for proposal in decision.proposals],
        "counterparty_id": decision.counterparty_id,
        "paired_line_id": decision.paired_line_id,
        "rule": decision.rule,
        "confidence": format(decision.confidence, "f"),
        "explanation": decision.explanation,
        "line_ids": line_ids,
        "covers_lines": len(line_ids),
    }


def run_offline(
    statement: Path,
    open_items: Path,
    *,
    settings: Path | None = None,
    posting_rules: Path | None = None,
    tenant_id: str = OFFLINE_TENANT,
) -> Iterator[dict[str, Any]]:
    """Read the files, then yield one decision record per statement line (a reversal pair's
    covers both of its lines), in file order."""
    policy = None
    if settings is not None:
        policy = matching_policy(read_matching_settings(settings), source=str(settings))
    rules = read_posting_rules(posting_rules) if posting_rules is not None else []
    lines, items = read_files(statement, open_items, tenant_id)
    by_id = {line.line_id: line for line in lines}
    pairs = reversal_pairs_in(tenant_id, lines, policy)
    decided = [line for line in lines if line.line_id not in set(pairs.values())]
    decisions = decide_lines(tenant_id, lines, items, policy, posting_rules=rules, pairs=pairs)
    for line, decision in zip(decided, decisions, strict=True):
        paired = by_id.get(decision.paired_line_id) if decision.paired_line_id else None
        yield decision_record(decision, line, paired)
