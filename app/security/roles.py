"""The one role check every guarded view uses."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort
from flask_login import current_user, login_required

from app.models import Role


def role_required(*roles: Role) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Require a signed-in user with one of `roles`; others get 403."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


admin_required = role_required(Role.ADMIN)
