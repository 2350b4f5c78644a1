"""Statement files inside bundles: zip, gzip and tar (plain or gzip-compressed).

Banks and aggregators send a day's statements zipped; an upload is untrusted, so unpacking
is bounded before a member is parsed: number of members, each member's size and the total
inflated size (a zip bomb is refused as soon as it inflates past the limit, not expanded),
one level of nesting only, and member names are never used as paths (nothing is written to
disk). Members are never held in memory: each is a ``StatementSource`` that inflates it
again from the bundle whenever it is read, as large members are read more than once.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, cast

from bankrec.ingest.domain.parsers.sources import (
    FileFacts,
    StatementSource,
    StreamSource,
    source_of,
    survey_bytes,
)
from bankrec.ingest.errors import ArchiveRefused

ARCHIVE_MEMBERS_MAX = 500
_SKIPPED_PREFIXES = ("__MACOSX/", ".")
_INFLATE_ERRORS = (zipfile.BadZipFile, zlib.error, NotImplementedError, EOFError, OSError)


@dataclass(frozen=True, slots=True)
class ArchiveMember:
    """One file of a bundle; ``name`` is only quoted in messages."""

    name: str
    source: StatementSource
    facts: FileFacts  # of the member's own bytes, read when the bundle was opened


@dataclass(frozen=True, slots=True)
class _MemberSource:
    """A member inflated afresh from the bundle each time it is opened."""

    member: str
    open_member: Callable[[], BinaryIO]

    @property
    def name(self) -> str | None:
        return self.member

    @contextlib.contextmanager
    def opened(self) -> Iterator[BinaryIO]:
        try:
            with self._open() as stream:
                yield stream
        except _INFLATE_ERRORS as exc:
            raise ArchiveRefused(f"member {self.member!r} cannot be inflated: {exc}") from exc

    def _open(self) -> BinaryIO:
        try:
            return self.open_member()
        except ValueError as exc:
            # zipfile seeks to a negative offset when a member's header offset is corrupt;
            # caught here only, so a ValueError of a parser reading the member stays a bug
            raise ArchiveRefused(f"member {self.member!r} cannot be read: {exc}") from exc


def is_archive(data: bytes) -> bool:
    return data.startswith((b"PK\x03\x04", b"\x1f\x8b")) or _is_tar(data)


@contextlib.contextmanager
def archive_members(
    source: StatementSource, head: bytes, *, inflated_bytes_max: int
) -> Iterator[list[ArchiveMember]]:
    """The statement files inside a bundle, in the bundle's order, each checked: every
    member is inflated once here (counted against ``inflated_bytes_max``, the upload
    limit, in total) and one that is itself an archive is refused. The members can be
    read while the context is open."""
    with source.opened() as stream:
        if head.startswith(b"PK\x03\x04"):
            openers = _zip_members(stream)
        elif head.startswith(b"\x1f\x8b"):
            openers = _gzip_members(stream)
        elif _is_tar(head):
            openers = _tar_members(stream)
        else:
            raise ArchiveRefused("the file is not a zip, gzip or tar archive")
        if not openers:
            raise ArchiveRefused("the archive holds no files")
        members: list[ArchiveMember] = []
        budget = inflated_bytes_max
        for name, open_member in openers:
            member = _MemberSource(name, open_member)
            with member.opened() as member_stream:
                facts = survey_bytes(member_stream, bytes_max=budget)
            if facts.size_bytes is None:
                raise ArchiveRefused(
                    f"the archive inflates to more than {inflated_bytes_max:,} bytes, the "
                    "upload limit (BANKREC_INGEST_UPLOAD_BYTES_MAX); send its files separately"
                )
            budget -= facts.size_bytes
            if is_archive(facts.head):
                raise ArchiveRefused(
                    f"member {name!r} is itself an archive; unpack nested archives first"
                )
            members.append(ArchiveMember(name, member, facts))
        yield members


def unpack_archive(data: bytes, *, inflated_bytes_max: int) -> list[tuple[str, bytes]]:
    """The (name, bytes) of every statement file of a bundle held in memory (tests, tools)."""
    source = source_of(data)
    with archive_members(source, data[:512], inflated_bytes_max=inflated_bytes_max) as members:
        unpacked: list[tuple[str, bytes]] = []
        for member in members:
            with member.source.opened() as stream:
                unpacked.append((member.name, stream.read()))
        return unpacked


_Openers = list[tuple[str, Callable[[], BinaryIO]]]


def _zip_members(stream: BinaryIO) -> _Openers:
    try:
        bundle = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ArchiveRefused(f"the zip archive cannot be read: {exc}") from exc
    infos = [
        info for info in bundle.infolist() if not info.is_dir() and not _skipped(info.filename)
    ]
    _check_count(len(infos))
    for info in infos:
        if info.flag_bits & 0x1:
            raise ArchiveRefused(f"member {info.filename!r} is encrypted")
    # the declared sizes can lie: what is inflated is counted while reading
    return [(info.filename, _zip_opener(bundle, info)) for info in infos]


def _zip_opener(bundle: zipfile.ZipFile, info: zipfile.ZipInfo) -> Callable[[], BinaryIO]:
    return lambda: cast(BinaryIO, bundle.open(info))


def _gzip_members(stream: BinaryIO) -> _Openers:
    def inflated() -> BinaryIO:
        stream.seek(0)
        return cast(BinaryIO, gzip.GzipFile(fileobj=stream))

    try:
        with inflated() as probe:
            start = probe.read(512)
    except (OSError, EOFError, zlib.error) as exc:
        raise ArchiveRefused(f"the gzip file cannot be inflated: {exc}") from exc
    if not _is_tar(start):
        return [("(gzip content)", inflated)]
    try:
        bundle = tarfile.open(fileobj=inflated(), mode="r:")  # noqa: SIM115 - lives with stream
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise ArchiveRefused(f"the tar archive cannot be read: {exc}") from exc
    return _tar_openers(bundle)


def _tar_members(stream: BinaryIO) -> _Openers:
    stream.seek(0)
    try:
        bundle = tarfile.open(fileobj=stream, mode="r:")  # noqa: SIM115 - lives with stream
    except tarfile.TarError as exc:
        raise ArchiveRefused(f"the tar archive cannot be read: {exc}") from exc
    return _tar_openers(bundle)


def _tar_openers(bundle: tarfile.TarFile) -> _Openers:
    try:
        # links, devices and the like carry no statement: only regular files are read
        infos = [info for info in bundle.getmembers() if info.isfile() and not _skipped(info.name)]
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise ArchiveRefused(f"the tar archive cannot be read: {exc}") from exc
    _check_count(len(infos))
    return [(info.name, _tar_opener(bundle, info)) for info in infos]


def _tar_opener(bundle: tarfile.TarFile, info: tarfile.TarInfo) -> Callable[[], BinaryIO]:
    def opened() -> BinaryIO:
        member = bundle.extractfile(info)
        return cast(BinaryIO, member) if member is not None else io.BytesIO()

    return opened


def _is_tar(data: bytes) -> bool:
    return len(data) > 262 and data[257:262] == b"ustar"


def _skipped(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return name.startswith(_SKIPPED_PREFIXES) or base.startswith(".") or not base


def _check_count(count: int) -> None:
    if count > ARCHIVE_MEMBERS_MAX:
        raise ArchiveRefused(
            f"the archive holds {count} files, more than {ARCHIVE_MEMBERS_MAX}; send them in "
            "smaller bundles"
        )


__all__ = [
    "ARCHIVE_MEMBERS_MAX",
    "ArchiveMember",
    "StreamSource",
    "archive_members",
    "is_archive",
    "unpack_archive",
]
