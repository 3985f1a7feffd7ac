"""Compressed responses (Brotli, else gzip) and long-lived, content-hashed static URLs.

HTML, JSON, CSS, JS and SVG answers of at least COMPRESS_MIN_BYTES are compressed when the
browser accepts it, with `Vary: Accept-Encoding`. Streamed answers (server-sent events, the
exports) are left alone: compressing them would hold back each chunk. Static files are
compressed once per file version and kept in memory.

`url_for('static', filename=...)` gets `?v=<hash of the file's content>`; a request carrying
the current hash is answered with a year's `Cache-Control: public, immutable`, so a deploy that
changes a file changes its URL and browsers never revalidate the old one.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from pathlib import Path
from typing import Any

from flask import Flask, Response, request

try:  # pragma: no cover - brotli is a declared dependency; gzip alone still works without it
    import brotli
except ImportError:  # pragma: no cover
    brotli = None

COMPRESSIBLE = {"text/html", "application/json", "text/css", "application/javascript",
                "text/javascript", "image/svg+xml", "text/plain", "application/problem+json",
                "application/manifest+json", "application/xml"}
YEAR = 365 * 24 * 3600

_static_cache: dict[tuple[str, float, str], bytes] = {}
_hashes: dict[tuple[str, float], str] = {}
_lock = threading.Lock()


def choose_encoding() -> str | None:
    accepted = request.accept_encodings
    if brotli is not None and accepted["br"] > 0:
        return "br"
    if accepted["gzip"] > 0:
        return "gzip"
    return None


def compress(data: bytes, encoding: str, *, static: bool = False) -> bytes:
    if encoding == "br":
        # Quality 4 costs about as much CPU as gzip level 6 and compresses better; static
        # files are compressed once, so they get the best.
        return brotli.compress(data, quality=11 if static else 4)
    return gzip.compress(data, compresslevel=9 if static else 6, mtime=0)


def _static_path(app: Flask, filename: str) -> Path | None:
    from werkzeug.security import safe_join

    joined = safe_join(str(app.static_folder), filename)
    return Path(joined) if joined else None


def static_hash(app: Flask, filename: str) -> str | None:
    path = _static_path(app, filename)
    try:
        stat = path.stat() if path else None
    except OSError:
        return None
    if stat is None:
        return None
    key = (str(path), stat.st_mtime)
    found = _hashes.get(key)
    if found is None:
        found = hashlib.blake2b(path.read_bytes(), digest_size=6).hexdigest()  # type: ignore[union-attr]
        with _lock:
            _hashes[key] = found
    return found


def _compress_response(app: Flask, response: Response) -> Response:
    if response.status_code != 200 or "Content-Encoding" in response.headers:
        return response
    if response.mimetype not in COMPRESSIBLE:
        return response
    response.vary.add("Accept-Encoding")
    if response.is_streamed and not response.direct_passthrough:
        return response  # a generator: server-sent events or an export, sent as it is made
    encoding = choose_encoding()
    if encoding is None:
        return response
    threshold = app.config.get("COMPRESS_MIN_BYTES", 1024)
    if response.direct_passthrough:
        # A static file: compressed once per file version, kept in memory.
        if request.endpoint != "static" or request.range is not None:
            return response
        path = _static_path(app, (request.view_args or {}).get("filename", ""))
        if path is None or not path.is_file():
            return response
        stat = path.stat()
        if stat.st_size < threshold:
            return response
        key = (str(path), stat.st_mtime, encoding)
        body = _static_cache.get(key)
        if body is None:
            body = compress(path.read_bytes(), encoding, static=True)
            with _lock:
                _static_cache[key] = body
        response.direct_passthrough = False
        response.response = [body]
    else:
        data = response.get_data()
        if len(data) < threshold:
            return response
        body = compress(data, encoding)
        response.set_data(body)
    response.headers["Content-Encoding"] = encoding
    response.headers["Content-Length"] = str(len(body))
    etag = response.headers.get("ETag")
    if etag and not etag.startswith("W/"):
        # The same resource in another encoding: equal for revalidation, not byte for byte.
        response.headers["ETag"] = "W/" + etag
    return response


def _static_caching(app: Flask, response: Response) -> None:
    if request.endpoint != "static" or response.status_code not in (200, 304):
        return
    wanted = request.args.get("v")
    if wanted and wanted == static_hash(app, (request.view_args or {}).get("filename", "")):
        response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
        response.expires = None


def install(app: Flask) -> None:
    """Register before the other after_request hooks, so this one runs last."""

    @app.url_defaults
    def hashed_static_urls(endpoint: str, values: dict[str, Any]) -> None:
        if endpoint == "static" and "filename" in values and "v" not in values:
            found = static_hash(app, values["filename"])
            if found:
                values["v"] = found

    @app.after_request
    def compress_and_cache(response: Response) -> Response:
        _static_caching(app, response)
        if app.config.get("COMPRESS_RESPONSES", True):
            return _compress_response(app, response)
        return response
