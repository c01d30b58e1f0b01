"""File work of ingestion that needs no database: reading and checking a file, creating its copy
in storage without ever overwriting one. Kept free of Django so that worker processes can run it.
"""

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from backend.imaging.dicom.header import DicomHeader, DicomRejected, check_dicom, read_header


def uid_key(uid: str) -> str:
    """The name a UID's folder or file gets in storage: a digest, so nothing a file says reaches a path."""
    return hashlib.sha256(uid.encode()).hexdigest()[:32]


def stored_name(header: DicomHeader) -> str:
    """Where an instance's file goes, relative to the media root: one folder per study and series."""
    return f"dicom/{uid_key(header.study_uid)}/{uid_key(header.series_uid)}/{uid_key(header.sop_uid)}.dcm"


def create_exclusive(target: Path, content: bytes) -> bool:
    """Create the file with this content; False (and nothing written) when it exists already."""
    try:
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    try:
        with os.fdopen(descriptor, "wb") as out:
            out.write(content)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return True


def read_bytes(path: Path) -> bytes | OSError:
    try:
        return path.read_bytes()
    except OSError as exc:
        return exc


def check_content(content: bytes | OSError, cache: dict | None = None) -> DicomHeader:
    if isinstance(content, OSError):
        raise DicomRejected("unreadable", f"cannot read the file: {content}")
    return check_dicom(read_header(content), cache=cache)


@dataclass(frozen=True)
class PreparedFile:
    """What a worker process did with one file: checked it and, when new, created its copy."""

    header: DicomHeader | None  # None: rejected
    code: str = ""
    message: str = ""
    written: str | None = None  # the stored name, when this worker created it
    size: int = 0


_values: dict = {}  # each worker process converts repeated header values once
_folders: set[Path] = set()  # and creates each series folder once


def prepare_files(paths: list[str], media_root: str) -> list[PreparedFile]:
    """In a worker process: read and check each file and create its copy under media_root, unless a
    file of that name exists (the database then decides: a duplicate, or another name)."""
    prepared: list[PreparedFile] = []
    try:
        for path in paths:
            content = read_bytes(Path(path))
            try:
                header = check_content(content, _values)
            except DicomRejected as exc:
                prepared.append(PreparedFile(None, exc.code, exc.message))
                continue
            target = Path(media_root) / stored_name(header)
            if target.parent not in _folders:
                target.parent.mkdir(parents=True, exist_ok=True)
                _folders.add(target.parent)
            written = stored_name(header) if create_exclusive(target, content) else None
            prepared.append(PreparedFile(header, written=written, size=len(content)))
    except OSError:  # e.g. a full disk: this chunk leaves nothing behind
        for item in prepared:
            if item.written:
                (Path(media_root) / item.written).unlink(missing_ok=True)
        raise
    return prepared
