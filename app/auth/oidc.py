"""Company sign-in with OpenID Connect: /auth/oidc/<provider>/login and /callback.

Authlib's Flask client does the protocol: discovery document, authorization code flow with
PKCE (S256), state and nonce, the token exchange, and the ID token's validation (signature
against the provider's JWKS, fetched again when a token names an unknown key; iss, aud, exp,
iat, nonce, at_hash). This module adds what Authlib leaves to the app: one flow at a time per
browser with a time limit, a discovery document whose issuer must be the configured one,
userinfo when the ID token carries no email, and a readable page for every way it can fail.
"""

from __future__ import annotations

import hmac
import time
from typing import Any

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError
from authlib.integrations.flask_client import OAuth
from flask import abort, current_app, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_user
from joserfc.errors import BadSignatureError
from joserfc.errors import JoseError as JoserfcError
from werkzeug.wrappers import Response

from app.auth import bp
from app.extensions import db, limiter
from app.services.accounts import oidc as oidc_service
from app.web import redirect_for, request_context, safe_next

FLOW_KEY = "oidc_flow"
# A person has this long at the provider (typing a password, a second factor) before the
# flow is refused as expired.
FLOW_MAX_SECONDS = 600
# Clock difference allowed between us and the provider for exp and iat.
LEEWAY_SECONDS = 60
# An ID token older than this is refused even if not expired (a token kept for replay).
ID_TOKEN_MAX_AGE_SECONDS = 600
HTTP_TIMEOUT_SECONDS = 10
CALLBACK_RATE_LIMIT = "30/minute"
CLIENTS_KEY = "worklog.oidc_clients"


class FlowError(Exception):
    def __init__(self, reason: str, detail: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


def configured_providers() -> list[dict[str, Any]]:
    return list(current_app.config.get("OIDC_PROVIDERS") or [])


def _provider_or_404(name: str) -> dict[str, Any]:
    for provider in configured_providers():
        if provider["name"] == name:
            return provider
    abort(404)


def _client(provider: dict[str, Any]) -> Any:
    """Authlib's client for a provider, one per app and configuration (it caches metadata and keys)."""
    clients = current_app.extensions.setdefault(CLIENTS_KEY, {})
    key = (provider["name"], provider["issuer"], provider["client_id"], provider["client_secret"],
           provider["scopes"])
    client = clients.get(key)
    if client is None:
        oauth = OAuth(current_app._get_current_object())
        client = oauth.register(
            f"worklog_{provider['name']}",
            client_id=provider["client_id"],
            client_secret=provider["client_secret"],
            server_metadata_url=provider["issuer"] + "/.well-known/openid-configuration",
            client_kwargs={"scope": provider["scopes"], "code_challenge_method": "S256",
                           "default_timeout": HTTP_TIMEOUT_SECONDS},
        )
        clients[key] = client
    return client


def _load_metadata(client: Any, provider: dict[str, Any]) -> dict[str, Any]:
    """The discovery document, which must describe the issuer we were configured with."""
    metadata = client.load_server_metadata()
    issuer = str(metadata.get("issuer") or "").rstrip("/")
    if issuer != provider["issuer"]:
        client.server_metadata.clear()  # read it again next time, the provider may be fixed
        raise FlowError("invalid_id_token", f"discovery issuer {issuer!r} is not the configured one")
    return metadata


def _drop_authlib_state() -> None:
    for key in [k for k in session if k.startswith("_state_worklog_")]:
        session.pop(key, None)


# A link (GET) on the sign-in page: a form posting here could not be redirected to the
# provider, because the pages' CSP allows forms to submit only to this site (form-action
# 'self' covers redirects too). Starting a flow changes nothing but this browser's session.
@bp.route("/oidc/<name>/login", methods=["GET", "POST"])
def oidc_login(name: str) -> str | Response | tuple[str, int]:
    """Send the browser to the provider's sign-in page."""
    provider = _provider_or_404(name)
    next_url = safe_next(request.form.get("next") or request.args.get("next"))
    if current_user.is_authenticated:
        return redirect_for(next_url)
    client = _client(provider)
    try:
        _load_metadata(client, provider)
        redirect_uri = url_for("auth.oidc_callback", name=name, _external=True)
        flow = client.create_authorization_url(redirect_uri)
    except FlowError as exc:
        return _refuse(provider, exc.reason, exc.detail)
    except (requests.RequestException, ValueError) as exc:
        return _refuse(provider, "provider_unreachable", type(exc).__name__)
    # One flow at a time: a new start replaces an unfinished one.
    _drop_authlib_state()
    client.save_authorize_data(redirect_uri=redirect_uri, **flow)
    session[FLOW_KEY] = {"provider": name, "state": flow["state"], "nonce": flow.get("nonce"),
                         "started": time.time(), "next": next_url}
    return redirect_for(flow["url"])


def _check_flow(name: str) -> dict[str, Any]:
    flow = session.pop(FLOW_KEY, None)
    error = request.args.get("error")
    if error:
        _drop_authlib_state()
        reason = "cancelled" if error in ("access_denied", "login_required") else "provider_error"
        raise FlowError(reason, f"{error}: {request.args.get('error_description', '')}".strip(": "))
    state = request.args.get("state") or ""
    if not isinstance(flow, dict) or flow.get("provider") != name or not state \
            or not hmac.compare_digest(str(flow.get("state")), state):
        raise FlowError("state_mismatch")
    if time.time() - float(flow.get("started") or 0) > FLOW_MAX_SECONDS:
        _drop_authlib_state()
        raise FlowError("expired")
    session["oidc_next"] = flow.get("next") or "/"
    return flow


def _exchange_code(client: Any, flow: dict[str, Any]) -> dict[str, Any]:
    """Trade the code for tokens and validate the ID token (Authlib), following a key rotation.

    Authlib fetches the JWKS again when a token names a key id it does not know. Providers
    that sign without a key id (oidc-provider-mock among them) would fail against a cached
    key set after rotating, so a bad signature is checked once more against a fresh JWKS.
    """
    try:
        return client.authorize_access_token(leeway=LEEWAY_SECONDS)
    except BadSignatureError:
        token = client.token
        if not token or not flow.get("nonce"):
            raise
        client.fetch_jwk_set(force=True)
        token["userinfo"] = client.parse_id_token(token, nonce=flow["nonce"], leeway=LEEWAY_SECONDS)
        return token


def _claims(client: Any, provider: dict[str, Any], token: dict[str, Any]) -> oidc_service.ProviderClaims:
    claims = dict(token.get("userinfo") or {})
    if not claims.get("sub"):
        raise FlowError("invalid_id_token", "no ID token in the token response")
    if len(str(claims["sub"])) > 255:  # the identities column; never cut (two could collide)
        raise FlowError("invalid_id_token", "sub: longer than 255 characters")
    iat = claims.get("iat")
    if not isinstance(iat, int | float) or iat < time.time() - ID_TOKEN_MAX_AGE_SECONDS - LEEWAY_SECONDS:
        raise FlowError("invalid_id_token", "iat: the ID token is too old")
    if not claims.get("email") and client.server_metadata.get("userinfo_endpoint"):
        info = dict(client.userinfo(token=token))
        # The userinfo answer counts only for the person the ID token is about.
        if str(info.get("sub")) == str(claims["sub"]):
            for key in ("email", "email_verified", "name"):
                if key not in claims and key in info:
                    claims[key] = info[key]
            if provider.get("roles_claim") and provider["roles_claim"] not in claims:
                claims[provider["roles_claim"]] = info.get(provider["roles_claim"])
    verified = claims.get("email_verified")
    if "email_verified" not in claims:
        verified = bool(provider.get("trust_email"))
    elif isinstance(verified, str):  # some providers send "true"
        verified = verified.strip().lower() == "true"
    email = claims.get("email")
    groups = None
    if provider.get("roles_claim"):
        # An absent claim changes nothing (a provider that stopped sending it must not demote
        # everyone); a present one, even empty, is applied.
        raw = claims.get(provider["roles_claim"])
        if isinstance(raw, str):
            groups = (raw,)
        elif isinstance(raw, list):
            groups = tuple(str(g) for g in raw)
    return oidc_service.ProviderClaims(
        provider=provider["name"], issuer=provider["issuer"], subject=str(claims["sub"])[:255],
        email=email.strip().lower()[:254] if isinstance(email, str) and "@" in email else None,
        email_verified=verified is True,
        name=claims.get("name") if isinstance(claims.get("name"), str) else None,
        groups=groups,
    )


@bp.get("/oidc/<name>/callback")
@limiter.limit(CALLBACK_RATE_LIMIT, key_func=get_remote_address, scope="oidc-callback")
def oidc_callback(name: str) -> str | Response | tuple[str, int]:
    """The provider sends the browser back here with a code: sign in, or say why not."""
    provider = _provider_or_404(name)
    client = _client(provider)
    try:
        flow = _check_flow(name)
        _load_metadata(client, provider)
        token = _exchange_code(client, flow)
        claims = _claims(client, provider, token)
    except FlowError as exc:
        return _refuse(provider, exc.reason, exc.detail)
    except requests.RequestException as exc:
        return _refuse(provider, "provider_unreachable", type(exc).__name__)
    except MismatchingStateError:
        return _refuse(provider, "state_mismatch")
    except OAuthError as exc:
        # The token endpoint refused the code: used before, expired, or not ours.
        return _refuse(provider, "code_refused", f"{exc.error}: {exc.description or ''}")
    except (JoserfcError, AuthlibBaseError) as exc:
        return _refuse(provider, "invalid_id_token", f"{type(exc).__name__}: {exc}")
    except ValueError as exc:  # an answer that is not JSON
        return _refuse(provider, "provider_unreachable", f"{type(exc).__name__}: {exc}")
    next_url = safe_next(session.pop("oidc_next", None))
    policy = oidc_service.OidcPolicy(
        allowed_domains=tuple(current_app.config.get("OIDC_ALLOWED_DOMAINS") or ()),
        link_by_email=bool(current_app.config.get("OIDC_LINK_BY_EMAIL", True)),
    )
    outcome = oidc_service.complete_sign_in(provider, claims, policy, request_context())
    db.session.commit()  # the refusals too: they are audited
    if not outcome.ok or outcome.result.user is None:
        return _page(provider, outcome.reason or "refused")
    user = outcome.result.user
    user._session_token = outcome.result.token
    session.clear()  # nothing an earlier visitor left survives the sign-in
    login_user(user)
    return redirect_for(next_url)


# reason: (HTTP status, title, what to do)
def _messages() -> dict[str, tuple[int, str, str]]:
    return {
        "cancelled": (400, _("Sign-in was cancelled"),
                      _("The sign-in was cancelled at your company's sign-in page. "
                        "Start again when you are ready.")),
        "provider_error": (502, _("The sign-in service refused"),
                           _("Your company's sign-in service answered with an error. Try again; "
                             "if it keeps happening, tell your administrator.")),
        "provider_unreachable": (502, _("The sign-in service cannot be reached"),
                                 _("Worklog could not reach your company's sign-in service. Try again "
                                   "in a few minutes; if it keeps happening, tell your administrator.")),
        "state_mismatch": (400, _("This sign-in link is not valid"),
                           _("This sign-in was not started in this browser, or it was already used. "
                             "Start again from the sign-in page.")),
        "expired": (400, _("The sign-in took too long"),
                    _("The sign-in was started more than 10 minutes ago. "
                      "Start again from the sign-in page.")),
        "code_refused": (400, _("This sign-in link is not valid"),
                         _("Your company's sign-in service refused this sign-in (it may have been used "
                           "already). Start again from the sign-in page.")),
        "invalid_id_token": (400, _("The sign-in could not be verified"),
                             _("The answer from your company's sign-in service did not pass Worklog's "
                               "checks. Start again; if it keeps happening, tell your administrator.")),
        "email_missing": (403, _("No email address"),
                          _("Your company account did not tell Worklog your email address. Ask your "
                            "administrator to allow the email scope for Worklog.")),
        "email_unverified": (403, _("Email address not verified"),
                             _("Your company account's email address is not verified, so Worklog cannot "
                               "tell whose account it is. Verify it with your provider, then try again.")),
        "domain_not_allowed": (403, _("No Worklog account"),
                               _("There is no Worklog account for this email address, and its domain is "
                                 "not one that gets an account automatically. Ask an administrator "
                                 "to invite you.")),
        "link_not_allowed": (403, _("Account not linked"),
                             _("A Worklog account with this email address exists, but company sign-in is not "
                               "linked to it. Sign in with your password, or ask an administrator.")),
        "inactive": (403, _("Account deactivated"),
                     _("Your Worklog account is deactivated. Ask an administrator if this is a mistake.")),
    }


def _page(provider: dict[str, Any], reason: str) -> tuple[str, int]:
    messages = _messages()
    status, title, message = messages.get(reason, messages["invalid_id_token"])
    return render_template("auth/oidc_error.html", title=title, message=message, reason=reason,
                           provider=provider), status


def _refuse(provider: dict[str, Any], reason: str, detail: str | None = None) -> tuple[str, int]:
    session.pop(FLOW_KEY, None)
    session.pop("oidc_next", None)
    db.session.rollback()  # nothing half-done survives; the refusal alone is written
    oidc_service.record_failure(provider["name"], reason, request_context(), detail=detail)
    db.session.commit()
    return _page(provider, reason)
