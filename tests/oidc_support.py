"""A real OpenID Connect provider for the tests (oidc-provider-mock), and a helper to sign in through it.

The provider runs on localhost in a thread: discovery document, JWKS, a login form, the
token and userinfo endpoints, all real HTTP. Claims set for a subject (PUT /users/<sub>) go
into the ID token as the provider signs it — including iss, aud, exp, iat or nonce, which is
how the tests get a provider that misbehaves in one precise way.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import requests

CLIENT_ID = "worklog-tests"
CLIENT_SECRET = "provider-secret-for-tests"  # noqa: S105 - the local test provider's


@dataclass
class Provider:
    url: str
    app: Any  # the provider's Flask app (its key lives there)
    server: Any = None

    def stop(self) -> None:
        """Shut the provider down (idempotent): its port refuses connections from now on."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def set_user(self, sub: str, **claims: Any) -> None:
        response = requests.put(f"{self.url}/users/{quote(sub, safe='')}", json=claims, timeout=10)
        assert response.status_code == 204, response.text

    def rotate_key(self) -> None:
        """Sign from now on with a new key (the JWKS then publishes only the new one)."""
        from authlib import jose

        with self.app.test_request_context("/"):
            self.app.preprocess_request()
            from flask import g

            g.oidc_provider_mock_storage.jwk = jose.RSAKey.generate_key(is_private=True)

    def jwks_kids(self) -> list[str]:
        return [k.get("kid") for k in requests.get(f"{self.url}/jwks", timeout=10).json()["keys"]]


@contextmanager
def running_provider(*, id_token_without: tuple[str, ...] = ()) -> Iterator[Provider]:
    """The provider on a free port; `id_token_without` drops those claims from its ID tokens.

    Dropping claims (re-signed with the provider's own key, so the token stays valid) makes a
    provider like Entra ID without the optional `email` claim: the email only in userinfo.
    """
    import threading

    import oidc_provider_mock
    from werkzeug.serving import make_server

    app = oidc_provider_mock.app()
    wsgi = _IdTokenFilter(app, id_token_without) if id_token_without else app
    server = make_server("localhost", 0, wsgi, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    provider = Provider(url=f"http://localhost:{server.server_port}", app=app, server=server)
    try:
        yield provider
    finally:
        provider.stop()
        thread.join(timeout=5)


def _provider_key(app: Any) -> Any:
    with app.test_request_context("/"):
        app.preprocess_request()
        from flask import g

        return g.oidc_provider_mock_storage.jwk


class _IdTokenFilter:
    """WSGI wrapper over the provider: ID tokens leave its token endpoint without some claims."""

    def __init__(self, app: Any, claims: tuple[str, ...]) -> None:
        self.app, self.claims = app, claims

    def __call__(self, environ: dict, start_response: Any) -> Any:
        if environ.get("PATH_INFO") != "/oauth2/token":
            return self.app(environ, start_response)
        import json

        from joserfc import jwt
        from joserfc.jwk import RSAKey
        from werkzeug.test import run_wsgi_app
        from werkzeug.wrappers import Response

        body_iter, status, headers = run_wsgi_app(self.app, environ)
        body = b"".join(body_iter)
        token = json.loads(body) if status.startswith("200") else None
        if token and "id_token" in token:
            key = RSAKey.import_key(_provider_key(self.app).as_dict(is_private=True))
            claims = jwt.decode(token["id_token"], key).claims
            for name in self.claims:
                claims.pop(name, None)
            token["id_token"] = jwt.encode({"alg": "RS256"}, claims, key)
            body = json.dumps(token).encode()
        response = Response(body, status=status, headers=[(k, v) for k, v in headers.items()
                                                          if k.lower() != "content-length"])
        return response(environ, start_response)


def provider_settings(issuer: str, name: str = "corp", **extra: Any) -> dict[str, Any]:
    settings = {
        "name": name, "issuer": issuer.rstrip("/"), "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET, "label": "Corp SSO", "scopes": "openid email profile",
        "trust_email": False, "roles_claim": None, "role_map": {}, "team_map": {},
    }
    settings.update(extra)
    return settings


def start(client, name: str = "corp", next_url: str | None = None):
    """Press "Sign in with …": the answer redirects to the provider."""
    data = {"next": next_url} if next_url else {}
    return client.post_form(f"/auth/oidc/{name}/login", data)


def authorize_at_provider(location: str, sub: str, *, deny: bool = False) -> str:
    """Fill the provider's login form; returns the callback URL it redirects to."""
    data = {"action": "deny"} if deny else {"sub": sub}
    response = requests.post(location, data=data, allow_redirects=False, timeout=10)
    assert response.status_code in (302, 303), response.text[:500]
    return response.headers["Location"]


def callback_path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


def sign_in_via_provider(client, sub: str, name: str = "corp", next_url: str | None = None,
                         deny: bool = False):
    """The whole round trip; returns Worklog's answer to the callback."""
    started = start(client, name, next_url)
    assert started.status_code == 302, started.get_data(as_text=True)[:500]
    back = authorize_at_provider(started.headers["Location"], sub, deny=deny)
    return client.get(callback_path(back))
