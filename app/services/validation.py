"""Typed validation errors: a code and its parameters, turned into words by the web layer
(app/web/validation.py) in the reader's language."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


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


@dataclass(frozen=True)
class FieldError:
    problem: Problem
    limit: int | None = None
    low: int | None = None


FieldErrors = dict[str, FieldError]
