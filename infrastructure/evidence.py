"""Evidence files (photos, documents), stored once by their SHA-256.

Events record only the hash, name, media type and size of a file, so the log
stays small; the bytes live here. Every read hashes the bytes again, so a file
changed after upload is detected (:class:`EvidenceAltered`) instead of served.

Where the bytes live depends on the database (the composition root,
:mod:`infrastructure.composition`, picks the store):

- SQLite file ``…/rectify.sqlite3``: the directory ``…/evidence/`` beside it
  (``var/evidence/<sha256>`` for the default database), or
  ``RECTIFY_EVIDENCE_DIR``; a small ``<sha256>.json`` beside each file keeps
  the name and media type it was first uploaded with.
- PostgreSQL: the table ``rectify_evidence`` of the same database, so every
  API process on every host sees the same files.
- in memory (popo, or SQLite ``:memory:``): a dictionary in the process.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from domain.values import Evidence
from infrastructure.side_tables import Dialect, SideDatabase

EVIDENCE_DIR_VARIABLE = "RECTIFY_EVIDENCE_DIR"


class EvidenceAltered(Exception):
    """The stored bytes no longer hash to the name they were stored under."""

    def __init__(self, sha256: str, actual: str) -> None:
        super().__init__(
            f"evidence {sha256} was altered after upload: its bytes now hash to {actual}"
        )
        self.sha256 = sha256
        self.actual = actual


@dataclass(frozen=True)
class EvidenceFile:
    """Stored bytes with the name and media type they were first uploaded with."""

    evidence: Evidence
    data: bytes


def sha256_of(data: bytes) -> str:
    """The lowercase hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


class EvidenceStore(ABC):
    """Content-addressed storage of evidence files."""

    def put(self, data: bytes, *, name: str, media_type: str) -> Evidence:
        """Store ``data`` (once per content) and return what an event records of it."""
        evidence = Evidence(
            sha256=sha256_of(data), name=name, media_type=media_type, size=len(data)
        )
        self._put(evidence, data)
        return evidence

    def get(self, sha256: str) -> EvidenceFile | None:
        """The file stored under ``sha256``, or None; EvidenceAltered if it changed."""
        found = self._get(sha256)
        if found is None:
            return None
        actual = sha256_of(found.data)
        if actual != sha256:
            raise EvidenceAltered(sha256, actual)
        return found

    @abstractmethod
    def size_of(self, sha256: str) -> int | None:
        """The size of the file stored under ``sha256``, or None if there is none."""

    def close(self) -> None:  # noqa: B027 - an optional hook; most stores hold nothing
        """Release connections, if any."""

    @abstractmethod
    def _put(self, evidence: Evidence, data: bytes) -> None:
        """Store the bytes unless a file of the same hash is already there."""

    @abstractmethod
    def _get(self, sha256: str) -> EvidenceFile | None: ...


class InMemoryEvidenceStore(EvidenceStore):
    """Evidence kept in the process."""

    def __init__(self) -> None:
        self._files: dict[str, EvidenceFile] = {}
        self._lock = threading.Lock()

    def _put(self, evidence: Evidence, data: bytes) -> None:
        with self._lock:
            self._files.setdefault(evidence.sha256, EvidenceFile(evidence, data))

    def _get(self, sha256: str) -> EvidenceFile | None:
        with self._lock:
            return self._files.get(sha256)

    def size_of(self, sha256: str) -> int | None:
        with self._lock:
            found = self._files.get(sha256)
        return found.evidence.size if found else None


class DirectoryEvidenceStore(EvidenceStore):
    """Evidence as files ``<directory>/<sha256>``, with ``<sha256>.json`` for name and type."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def _path(self, sha256: str) -> Path:
        # The hash is validated by Evidence before it gets here; a name that is
        # not 64 hex digits never becomes a path.
        return self.directory / sha256

    def _put(self, evidence: Evidence, data: bytes) -> None:
        target = self._path(evidence.sha256)
        if target.exists():
            return
        meta = json.dumps({"name": evidence.name, "media_type": evidence.media_type})
        _write_atomically(target.with_suffix(".json"), meta.encode("utf-8"))
        # The data file is written last: its presence means the upload is whole.
        _write_atomically(target, data)

    def _get(self, sha256: str) -> EvidenceFile | None:
        path = self._path(sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            meta = {"name": sha256, "media_type": "application/octet-stream"}
        evidence = Evidence(
            sha256=sha256, name=meta["name"], media_type=meta["media_type"], size=len(data)
        )
        return EvidenceFile(evidence, data)

    def size_of(self, sha256: str) -> int | None:
        try:
            return self._path(sha256).stat().st_size
        except FileNotFoundError:
            return None


def _write_atomically(target: Path, data: bytes) -> None:
    # Written under a temporary name and renamed, so a reader never sees half a file.
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


EVIDENCE_DDL: dict[Dialect, list[str]] = {
    "sqlite": [
        "CREATE TABLE IF NOT EXISTS rectify_evidence ("
        " sha256 TEXT PRIMARY KEY, name TEXT NOT NULL, media_type TEXT NOT NULL,"
        " size INTEGER NOT NULL, data BLOB NOT NULL, created_at REAL NOT NULL)",
    ],
    "postgres": [
        "CREATE TABLE IF NOT EXISTS rectify_evidence ("
        " sha256 TEXT PRIMARY KEY, name TEXT NOT NULL, media_type TEXT NOT NULL,"
        " size BIGINT NOT NULL, data BYTEA NOT NULL, created_at DOUBLE PRECISION NOT NULL)",
    ],
}


class TableEvidenceStore(EvidenceStore):
    """Evidence in the table ``rectify_evidence`` (used on PostgreSQL)."""

    def __init__(self, database: SideDatabase, *, owns_database: bool = False) -> None:
        self.database = database
        self._owns_database = owns_database
        database.ensure_tables(EVIDENCE_DDL)

    def _put(self, evidence: Evidence, data: bytes) -> None:
        self.database.execute(
            "INSERT INTO rectify_evidence (sha256, name, media_type, size, data, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING",
            (evidence.sha256, evidence.name, evidence.media_type, evidence.size, data, time.time()),
        )

    def _get(self, sha256: str) -> EvidenceFile | None:
        rows = self.database.execute(
            "SELECT name, media_type, data FROM rectify_evidence WHERE sha256 = ?",
            (sha256,),
            write=False,
        )
        if not rows:
            return None
        name, media_type, data = rows[0]
        data = bytes(data)
        return EvidenceFile(Evidence(sha256, name, media_type, len(data)), data)

    def size_of(self, sha256: str) -> int | None:
        rows = self.database.execute(
            "SELECT size FROM rectify_evidence WHERE sha256 = ?", (sha256,), write=False
        )
        return int(rows[0][0]) if rows else None

    def close(self) -> None:
        """Close the database connection if this store opened it."""
        if self._owns_database:
            self.database.close()
