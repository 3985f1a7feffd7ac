"""One cleaning layer for every text a request brings: query strings, forms and JSON bodies.

PostgreSQL refuses NUL in text (psycopg raises DataError, which was a 500), and no field of
this app has a use for the other C0 control characters, DEL or lone UTF-16 surrogates (which
JSON can smuggle in as "\\ud800" and which no database can encode). They are dropped before
any view, form or service sees the value; tab, newline and carriage return are kept.

The layer is a mixin over the app's request class (`install`): its `parameter_storage_class`
(which werkzeug uses to build `request.args`, `request.form` and `request.files`) cleans keys
and string values as the dict is built, and `get_json` cleans every string in the parsed body. URL path values
(`<week>`, `<path:…>`) are cleaned by `clean_view_args`, registered as a URL value
preprocessor.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from flask import Flask, Request
from werkzeug.datastructures import ImmutableMultiDict, MultiDict

# C0 controls except \t \n \r, DEL, and lone surrogates (valid pairs never reach a str).
_UNWANTED = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def clean_str(value: str) -> str:
    """`value` without NUL, other control characters (tab and line breaks kept) or surrogates."""
    return _UNWANTED.sub("", value)


def clean_data(value: Any) -> Any:
    """Every string in a parsed JSON value (keys included) cleaned; other values as they are."""
    if isinstance(value, str):
        return clean_str(value)
    if isinstance(value, dict):
        return {clean_data(k): clean_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_data(v) for v in value]
    return value


def _pairs(mapping: Any) -> Iterable[tuple[Any, Any]]:
    if mapping is None:
        return []
    if isinstance(mapping, MultiDict):
        return list(mapping.items(multi=True))
    if isinstance(mapping, Mapping):
        pairs = []
        for key, value in mapping.items():
            if isinstance(value, list | tuple | set):
                pairs.extend((key, item) for item in value)
            else:
                pairs.append((key, value))
        return pairs
    return list(mapping)


def _clean_pair(key: Any, value: Any) -> tuple[Any, Any]:
    return (
        clean_str(key) if isinstance(key, str) else key,
        clean_str(value) if isinstance(value, str) else value,
    )


class CleanMultiDict(ImmutableMultiDict):  # type: ignore[type-arg]
    """An ImmutableMultiDict whose string keys and values are cleaned as it is built."""

    def __init__(self, mapping: Any = None) -> None:
        super().__init__([_clean_pair(k, v) for k, v in _pairs(mapping)])


class CleanRequestMixin:
    """Mixed into whatever request class the app has (htmx-flask sets its own)."""

    parameter_storage_class = CleanMultiDict

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        return clean_data(super().get_json(force=force, silent=silent, cache=cache))  # type: ignore[misc]


def install(app: Flask) -> None:
    """Clean every request of `app`; call after the extensions that set `request_class`."""
    current: type[Request] = app.request_class
    if not issubclass(current, CleanRequestMixin):
        app.request_class = type("CleanRequest", (CleanRequestMixin, current), {})
    app.url_value_preprocessor(clean_view_args)


def clean_view_args(_endpoint: str | None, values: dict[str, Any] | None) -> None:
    """URL value preprocessor: string path values cleaned in place."""
    if values:
        for key, value in values.items():
            if isinstance(value, str):
                values[key] = clean_str(value)
