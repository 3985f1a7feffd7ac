from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length

from app.i18n import LANGUAGE_NAMES, timezone_names


class PreferencesForm(FlaskForm):
    display_name = StringField(_l("Display name"), validators=[DataRequired(), Length(max=100)])
    locale = SelectField(_l("Language"))
    timezone = SelectField(_l("Time zone"), validators=[DataRequired()])
    submit = SubmitField(_l("Save preferences"))

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.locale.choices = [("", _l("Same as my browser"))] + list(LANGUAGE_NAMES.items())
        self.timezone.choices = [(tz, tz) for tz in timezone_names()]
