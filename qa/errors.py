"""The one exception tree of the library.

QAError
├── InvalidInputError      bad question, top_k, mode, corpus line ...   -> HTTP 422 / CLI exit 2
├── NotFoundError          unknown document id                           -> HTTP 404 / CLI exit 2
├── ConflictError          a document with that id already exists        -> HTTP 409 / CLI exit 2
├── CorpusError            corpus missing, empty or unreadable           -> HTTP 422 / CLI exit 2
├── ModelError             model folder missing or weights hash wrong   -> HTTP 500 / CLI exit 1
├── IndexStateError        index missing, corrupt or built differently  -> HTTP 503 / CLI exit 1
└── StorageError           the disk refused a read or write (full, I/O) -> HTTP 507 when full,
                           the store itself is not damaged                 else 503 / CLI exit 1
"""

from __future__ import annotations

__all__ = [
    "ConflictError",
    "CorpusError",
    "IndexStateError",
    "InvalidInputError",
    "ModelError",
    "NotFoundError",
    "QAError",
    "StorageError",
    "check_text",
]


class QAError(Exception):
    """Base of every error this library raises on purpose."""


class InvalidInputError(QAError):
    """The caller asked for something malformed; ``field`` names what, where it is known
    (``("question",)``, ``(3, "id")``: the request field an HTTP 422 points at)."""

    def __init__(self, message: str, *, field: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.field = field


def check_text(value: str, name: str, field: tuple[str, ...] | None = None) -> None:
    """Refuse a string that is not Unicode text: a lone surrogate, from JSON's ``"\\ud800"`` or
    from undecodable bytes in a shell argument, which no UTF-8 answer or store could carry.
    ``field``: where the error points (default: ``name`` itself)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        message = f"{name} is not valid text ({exc.reason})"
        raise InvalidInputError(message, field=field or (name,)) from None


class NotFoundError(QAError):
    """The caller asked for something that does not exist."""


class ConflictError(QAError):
    """The write would overwrite something the caller did not ask to replace."""


class CorpusError(QAError):
    """The articles cannot be read into a corpus."""


class ModelError(QAError):
    """The embedding model cannot be loaded or is not the one expected."""


class IndexStateError(QAError):
    """The index on disk is missing, damaged or was built with other settings."""


class SyncStopped(QAError):
    """A folder sync stopped between two batches because the service is stopping. What it
    wrote is stored; its files stay marked pending, so the next sync reads them again."""


class StorageError(QAError):
    """The disk under the index folder refused a read or a write: it is full, failing, or not
    writable. The store is not damaged (so nothing is set aside or rebuilt), and a write that
    failed left nothing of itself behind: send it again once the disk is fixed."""

    def __init__(self, message: str, *, full: bool = False) -> None:
        super().__init__(message)
        self.full = full
        """the disk is full (HTTP 507 Insufficient Storage)"""
