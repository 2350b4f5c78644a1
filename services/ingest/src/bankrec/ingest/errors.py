# ruff: noqa: N818 - the names are the problems users see (NotXml, MissingElement)
"""What ingest refuses, each with a stable code.

Every refusal of a statement file is an ``IngestError``; the HTTP API maps them to 4xx/5xx
responses in one place (``api.ERROR_STATUS``) and the CLI prints ``code: message``. Messages
name the problem (element path, statement, line and column) so a user can act on them.
"""

from __future__ import annotations

from typing import ClassVar


class IngestError(Exception):
    """Base of every refusal; ``code`` is stable, ``message`` says what to do."""

    code: ClassVar[str] = "ingest_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def details(self) -> dict[str, str | int]:
        """Machine-readable context (line, column, element, ...) for the error response."""
        return {}

    def within(self, member: str) -> IngestError:
        """The same refusal, naming the file of a bundle it is about."""
        self.message = f"{member}: {self.message}"
        self.args = (self.message,)
        return self


class EmptyStatementFile(IngestError):
    """The upload has no content (or only whitespace)."""

    code = "empty_file"


class StatementTooLarge(IngestError):
    """The upload is larger than ``upload_bytes_max``."""

    code = "too_large"

    def __init__(self, size_bytes: int | None, limit_bytes: int) -> None:
        size = "more than" if size_bytes is None else f"{size_bytes:,} bytes, more than"
        super().__init__(
            f"the file is {size} the limit of {limit_bytes:,} bytes; split it into smaller "
            "files or raise BANKREC_INGEST_UPLOAD_BYTES_MAX"
        )
        self.size_bytes = size_bytes
        self.limit_bytes = limit_bytes


class UnsupportedFormat(IngestError):
    """A statement format ingest does not read (yet), detected or asked for."""

    code = "unsupported_format"


class NotXml(IngestError):
    """The file is not well-formed XML."""

    code = "not_xml"

    def __init__(self, reason: str, line: int | None = None, column: int | None = None) -> None:
        where = f" at line {line}, column {column}" if line else ""
        super().__init__(f"the file is not well-formed XML{where}: {reason}")
        self.line = line
        self.column = column

    def details(self) -> dict[str, str | int]:
        found: dict[str, str | int] = {}
        if self.line:
            found["line"] = self.line
        if self.column:
            found["column"] = self.column
        return found


class ArchiveRefused(IngestError):
    """A zip/gzip/tar bundle that cannot or may not be unpacked (too big, encrypted,
    nested, corrupt)."""

    code = "archive_refused"


class ForbiddenXmlConstruct(IngestError):
    """A DOCTYPE or ENTITY declaration: refused so no entity can expand or reach out."""

    code = "forbidden_dtd"


class UnknownNamespace(IngestError):
    """The XML is not an ISO 20022 camt message in a version ingest reads."""

    code = "unknown_namespace"

    def __init__(self, message: str, *, found: str) -> None:
        super().__init__(message)
        self.found = found

    def details(self) -> dict[str, str | int]:
        return {"namespace": self.found}


class FormatMismatch(IngestError):
    """``format=`` asked for one statement format and the file is another."""

    code = "format_mismatch"


class StatementContentError(IngestError):
    """Base of the errors about what is inside a well-formed statement file."""

    code = "invalid_statement"

    def __init__(self, problem: str, *, path: str, statement: str | None, line: int | None) -> None:
        where = []
        if statement:
            where.append(f"statement '{statement}'")
        if line:
            where.append(f"line {line}")
        suffix = f" ({', '.join(where)})" if where else ""
        super().__init__(f"{problem}{suffix}")
        self.path = path
        self.statement = statement
        self.line = line

    def details(self) -> dict[str, str | int]:
        found: dict[str, str | int] = {"element": self.path}
        if self.statement:
            found["statement"] = self.statement
        if self.line:
            found["line"] = self.line
        return found


class MissingElement(StatementContentError):
    """A required element is absent, e.g. ``Stmt/Ntry/Amt``."""

    code = "missing_element"

    def __init__(
        self, path: str, *, statement: str | None = None, line: int | None = None, hint: str = ""
    ) -> None:
        problem = f"required element <{path}> is missing"
        if hint:
            problem = f"{problem}; {hint}"
        super().__init__(problem, path=path, statement=statement, line=line)


class InvalidValue(StatementContentError):
    """An element holds a value that cannot be read (an amount, a date, a currency)."""

    code = "invalid_value"

    def __init__(
        self,
        path: str,
        value: str,
        expected: str,
        *,
        statement: str | None = None,
        line: int | None = None,
    ) -> None:
        shown = value if len(value) <= 60 else value[:57] + "..."
        super().__init__(
            f"<{path}> holds {shown!r}, expected {expected}",
            path=path,
            statement=statement,
            line=line,
        )


class InvalidRecord(StatementContentError):
    """A record of a line-based format (MT940, BAI2, OFX, CSV, OCR giro, BgMax) that cannot
    be read: ``path`` names the record and field (``:61: amount``, ``16 amount``)."""

    code = "invalid_record"

    def __init__(
        self,
        path: str,
        problem: str,
        *,
        statement: str | None = None,
        line: int | None = None,
    ) -> None:
        super().__init__(f"{path}: {problem}", path=path, statement=statement, line=line)


class ApiKeyRefused(IngestError):
    """No API key, a malformed or unknown one, a revoked one, or another tenant's."""

    code = "unauthorized"


class TenantForbidden(IngestError):
    """A valid API key used for another tenant's resources."""

    code = "forbidden"


class WebhookSignatureRefused(IngestError):
    """A webhook whose signature or timestamp does not check out; ``reason`` says which."""

    code = "bad_signature"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason

    def details(self) -> dict[str, str | int]:
        return {"reason": self.reason}


class IngestNotFound(IngestError):
    """No received file with that ingest id for the tenant."""

    code = "not_found"


class PublishFailed(IngestError):
    """The broker did not accept the messages; the upload can be retried as is."""

    code = "publish_failed"
