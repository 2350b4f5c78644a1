"""Statement files inside bundles: zip, gzip and tar (plain or gzip-compressed).

Banks and aggregators send a day's statements zipped; an upload is untrusted, so unpacking
is bounded before a byte is inflated: number of members, each member's size and the total
inflated size (a zip bomb is refused, not expanded), one level of nesting only, and member
names are never used as paths (nothing is written to disk).
"""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile
import zlib
from dataclasses import dataclass

from bankrec.ingest.errors import ArchiveRefused

ARCHIVE_MEMBERS_MAX = 500
_SKIPPED_PREFIXES = ("__MACOSX/", ".")
_CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ArchiveMember:
    """One file taken out of a bundle; ``name`` is only quoted in messages."""

    name: str
    data: bytes


def is_archive(data: bytes) -> bool:
    return data.startswith((b"PK\x03\x04", b"\x1f\x8b")) or _is_tar(data)


def unpack_archive(data: bytes, *, inflated_bytes_max: int) -> list[ArchiveMember]:
    """The statement files inside a bundle, in the bundle's order.

    ``inflated_bytes_max`` bounds the total size after inflating (the upload limit); a
    member that is itself an archive is refused rather than unpacked again.
    """
    if data.startswith(b"PK\x03\x04"):
        members = _unzip(data, inflated_bytes_max)
    elif data.startswith(b"\x1f\x8b"):
        inflated = _gunzip(data, inflated_bytes_max)
        members = (
            _untar(inflated, inflated_bytes_max)
            if _is_tar(inflated)
            else [ArchiveMember("(gzip content)", inflated)]
        )
    elif _is_tar(data):
        members = _untar(data, inflated_bytes_max)
    else:
        raise ArchiveRefused("the file is not a zip, gzip or tar archive")
    if not members:
        raise ArchiveRefused("the archive holds no files")
    for member in members:
        if is_archive(member.data):
            raise ArchiveRefused(
                f"member {member.name!r} is itself an archive; unpack nested archives first"
            )
    return members


def _unzip(data: bytes, inflated_bytes_max: int) -> list[ArchiveMember]:
    try:
        bundle = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise ArchiveRefused(f"the zip archive cannot be read: {exc}") from exc
    with bundle:
        infos = [
            info for info in bundle.infolist() if not info.is_dir() and not _skipped(info.filename)
        ]
        _check_count(len(infos))
        total = 0
        members: list[ArchiveMember] = []
        for info in infos:
            if info.flag_bits & 0x1:
                raise ArchiveRefused(f"member {info.filename!r} is encrypted")
            # the declared size can lie: count what is actually inflated
            chunks: list[bytes] = []
            try:
                with bundle.open(info) as stream:
                    while chunk := stream.read(_CHUNK):
                        total += len(chunk)
                        _check_total(total, inflated_bytes_max)
                        chunks.append(chunk)
            except (zipfile.BadZipFile, zlib.error, NotImplementedError, EOFError) as exc:
                raise ArchiveRefused(f"member {info.filename!r} cannot be inflated: {exc}") from exc
            members.append(ArchiveMember(info.filename, b"".join(chunks)))
        return members


def _gunzip(data: bytes, inflated_bytes_max: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            while chunk := stream.read(_CHUNK):
                total += len(chunk)
                _check_total(total, inflated_bytes_max)
                chunks.append(chunk)
    except (OSError, EOFError, zlib.error) as exc:
        raise ArchiveRefused(f"the gzip file cannot be inflated: {exc}") from exc
    return b"".join(chunks)


def _untar(data: bytes, inflated_bytes_max: int) -> list[ArchiveMember]:
    try:
        bundle = tarfile.open(fileobj=io.BytesIO(data), mode="r:")  # noqa: SIM115 - closed below
    except tarfile.TarError as exc:
        raise ArchiveRefused(f"the tar archive cannot be read: {exc}") from exc
    with bundle:
        # links, devices and the like carry no statement: only regular files are read
        infos = [info for info in bundle.getmembers() if info.isfile() and not _skipped(info.name)]
        _check_count(len(infos))
        _check_total(sum(info.size for info in infos), inflated_bytes_max)
        members: list[ArchiveMember] = []
        for info in infos:
            stream = bundle.extractfile(info)
            if stream is not None:
                members.append(ArchiveMember(info.name, stream.read()))
        return members


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


def _check_total(total: int, inflated_bytes_max: int) -> None:
    if total > inflated_bytes_max:
        raise ArchiveRefused(
            f"the archive inflates to more than {inflated_bytes_max:,} bytes, the upload limit "
            "(BANKREC_INGEST_UPLOAD_BYTES_MAX); send its files separately"
        )
