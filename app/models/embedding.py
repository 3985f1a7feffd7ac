"""Ask your log's optional embeddings: one vector per work-log entry, for meaning-based retrieval."""

from __future__ import annotations

import hashlib
import sys
from array import array
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db
from app.models.base import UTCDateTime, utcnow

MODEL_MAX = 100
CONTENT_HASH_MAX = 64  # a SHA-256 in hex


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def pack_vector(values: Sequence[float]) -> bytes:
    """float32, little-endian whatever the machine, so a backup restores anywhere."""
    packed = array("f", values)
    if sys.byteorder == "big":  # pragma: no cover - no big-endian CI
        packed.byteswap()
    return packed.tobytes()


def unpack_vector(data: bytes) -> array[float]:
    values = array("f")
    values.frombytes(data)
    if sys.byteorder == "big":  # pragma: no cover
        values.byteswap()
    return values


class EntryEmbedding(db.Model):
    """The embedding of one entry's text (title, STAR parts, tags) under one model.

    Stale when the entry's text (content_hash) or the configured model differs; it is then
    computed again. Only the newest vector is kept; it goes when the entry is purged.
    """

    __tablename__ = "entry_embeddings"

    entry_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("log_entries.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    model: so.Mapped[str] = so.mapped_column(sa.String(MODEL_MAX))
    content_hash: so.Mapped[str] = so.mapped_column(sa.String(CONTENT_HASH_MAX))
    dims: so.Mapped[int]
    # Unit length, so a dot product is the cosine similarity.
    vector: so.Mapped[bytes] = so.mapped_column(sa.LargeBinary)
    # When the embedded text was read: an entry updated after this may have changed.
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)

    def __repr__(self) -> str:
        return f"<EntryEmbedding {self.entry_id} {self.model} {self.dims}d>"

    @property
    def values(self) -> array[float]:
        return unpack_vector(self.vector)
