"""Validation errors in words, in the reader's language."""

from __future__ import annotations

from collections.abc import Mapping

from flask_babel import gettext as _

from app.services.validation import FieldError, Problem


def message(error: FieldError) -> str:
    n = error.limit
    match error.problem:
        case Problem.REQUIRED:
            return _("This field is required.")
        case Problem.MAX_LENGTH:
            return _("At most %(n)s characters.", n=n)
        case Problem.MAX_ITEMS:
            return _("At most %(n)s tags.", n=n)
        case Problem.ITEM_MAX_LENGTH:
            return _("Each tag can have at most %(n)s characters.", n=n)
        case Problem.CHOICE:
            return _("Choose Low, Medium or High.")
        case Problem.DATE:
            return _("Enter a date as YYYY-MM-DD.")
        case Problem.STRING:
            return _("Must be a string.")
        case Problem.STRING_LIST:
            return _("Must be a list of strings.")
        case Problem.INTEGER:
            return _("Must be a whole number from %(low)d to %(high)d.", low=error.low or 0, high=n or 0)
    return _("This value is not valid.")


def field_messages(errors: Mapping[str, FieldError]) -> dict[str, str]:
    return {name: message(error) for name, error in errors.items()}
