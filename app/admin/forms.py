from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from app.models import Role
from app.security.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH


def role_choices() -> list[tuple[str, str]]:
    return [(Role.MEMBER.value, _l("Member")), (Role.LEAD.value, _l("Lead")), (Role.ADMIN.value, _l("Admin"))]


class NewUserForm(FlaskForm):
    """Shared by "create a user" and "invite someone": who, with which role, in which team."""

    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    display_name = StringField(_l("Name"), validators=[Optional(), Length(max=100)])
    role = SelectField(_l("Role"), choices=role_choices, default=Role.MEMBER.value)
    team = SelectField(_l("Team"), choices=[], validate_choice=True)
    submit = SubmitField(_l("Create"))


class AcceptInviteForm(FlaskForm):
    display_name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=100)])
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH)],
        description=_l("At least %(n)d characters.", n=MIN_PASSWORD_LENGTH),
    )
    confirm = PasswordField(
        _l("Repeat password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The two passwords differ."))],
    )
    submit = SubmitField(_l("Create my account"))
