"""Typed validation errors: a code and its parameters, turned into words by the web layer
(app/web/validation.py) in the reader's language."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

ID_MAX = 2**31 - 1  # ids and versions are 32-bit INTEGER columns on PostgreSQL


def parse_int(raw: str | None, minimum: int = 0, maximum: int = ID_MAX) -> int | None:
    """`raw` as an integer a column can hold, else None (ASCII digits only: "²" is no number)."""
    if not raw or not (raw.isascii() and raw.isdecimal()) or len(raw) > len(str(maximum)):
        return None
    value = int(raw)
    return value if minimum <= value <= maximum else None


class Problem(StrEnum):
    REQUIRED = "required"
    MAX_LENGTH = "max_length"  # limit: characters
    MAX_ITEMS = "max_items"  # limit: items (tags)
    ITEM_MAX_LENGTH = "item_max_length"  # limit: characters per item
    CHOICE = "choice"  # not one of the allowed values
    DATE = "date"  # not YYYY-MM-DD
    STRING = "string"  # JSON: must be a string
    STRING_LIST = "string_list"  # JSON: must be a list of strings
    INTEGER = "integer"  # low..limit
    UNKNOWN = "unknown"  # JSON: a property the API does not have
    INVALID = "invalid"  # anything else the schema refuses


@dataclass(frozen=True)
class FieldError:
    problem: Problem
    limit: int | None = None
    low: int | None = None


FieldErrors = dict[str, FieldError]
