"""`flask users create` and `flask demo seed`, as an operator runs them."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent, Team, User

SHOWN_ONCE = re.compile(r"Password \(shown once\): (\S+)")
DEMO_LINE = re.compile(r"^\s+(admin|lead|member)\s+(\S+@\S+)\s+(\S+)$", re.MULTILINE)
OWN_PASSWORD = "a long password typed by the operator"


def _users(app) -> list[User]:
    with app.app_context():
        users = db.session.scalars(sa.select(User).order_by(User.email)).all()
        for user in users:
            _ = user.team  # load before the session closes
        db.session.expunge_all()
        return list(users)


def _count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def _create(runner, *args: str, input: str | None = None):
    return runner.invoke(args=["users", "create", *args], input=input)


# --- flask users create ----------------------------------------------------------------


def test_it_creates_a_user_and_prints_a_password_that_signs_in(app, runner, client, auth):
    result = _create(runner, "New.Admin@Example.COM", "--role", "admin")
    assert result.exit_code == 0, result.output
    [password] = SHOWN_ONCE.findall(result.output)
    assert result.output.count(password) == 1
    [user] = _users(app)
    assert user.email == "new.admin@example.com"
    assert user.role == "admin"
    assert user.team is None
    assert auth.login("NEW.ADMIN@example.com", password).status_code == 302
    assert client.get("/admin").status_code == 200


def test_it_reads_the_password_from_stdin(app, runner, auth):
    result = _create(runner, "lead@example.com", "--role", "lead", "--password-stdin",
                     input=OWN_PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert OWN_PASSWORD not in result.output
    assert SHOWN_ONCE.search(result.output) is None
    assert auth.login("lead@example.com", OWN_PASSWORD).status_code == 302


def test_it_refuses_a_duplicate_email_in_any_case(app, runner):
    assert _create(runner, "someone@example.com").exit_code == 0
    result = _create(runner, "SomeOne@Example.com", "--role", "admin")
    assert result.exit_code != 0
    assert "someone@example.com already exists" in result.output
    assert SHOWN_ONCE.search(result.output) is None
    [user] = _users(app)
    assert user.role == "member"


def test_it_refuses_a_short_password_and_creates_nothing(app, runner):
    result = _create(runner, "short@example.com", "--password-stdin", input="tooshort\n")
    assert result.exit_code != 0
    assert "at least 10 characters" in result.output
    assert _users(app) == []
    assert _count(app, AuditEvent) == 0


def test_it_refuses_an_empty_stdin(app, runner):
    result = _create(runner, "nobody@example.com", "--password-stdin", input="")
    assert result.exit_code != 0
    assert _users(app) == []


def test_it_refuses_what_is_not_an_email_address(app, runner):
    result = _create(runner, "not-an-email")
    assert result.exit_code != 0
    assert "is not an email address" in result.output
    assert _users(app) == []


def test_it_refuses_an_unknown_role(app, runner):
    result = _create(runner, "boss@example.com", "--role", "owner")
    assert result.exit_code != 0
    assert "owner" in result.output
    assert _users(app) == []


def test_it_creates_the_team_once_and_puts_users_in_it(app, runner):
    result = _create(runner, "lead@example.com", "--role", "lead", "--team", "Payments")
    assert result.exit_code == 0
    assert _create(runner, "member@example.com", "--team", "Payments").exit_code == 0
    assert _count(app, Team) == 1
    users = _users(app)
    assert {u.email: u.team.name for u in users} == {
        "lead@example.com": "Payments",
        "member@example.com": "Payments",
    }


def test_it_leaves_no_team_behind_when_the_user_is_refused(app, runner):
    result = _create(runner, "x@example.com", "--team", "Ghosts", "--password-stdin",
                     input="short\n")
    assert result.exit_code != 0
    assert _count(app, Team) == 0


def test_it_audits_the_creation(app, runner):
    assert _create(runner, "audited@example.com", "--role", "lead", "--team", "Core").exit_code == 0
    [user] = _users(app)
    with app.app_context():
        [event] = db.session.scalars(sa.select(AuditEvent)).all()
        assert event.action == "user.created"
        assert event.target_type == "user"
        assert event.target_id == str(user.id)
        assert event.details["via"] == "cli"
        assert event.details["role"] == "lead"
        assert event.details["team"] == "Core"


def test_it_works_from_a_shell_with_a_piped_password(app, database, tmp_path):
    # The real `flask` command, as in a deploy script: no test runner between.
    root = Path(__file__).resolve().parent.parent
    env = {
        **os.environ,
        "FLASK_APP": "wsgi",
        "DATABASE_URL": database.url,
        "WORKLOG_INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": "x" * 40,
        "LOG_LEVEL": "WARNING",
    }
    env.pop("APP_ENV", None)
    result = subprocess.run(
        [sys.executable, "-m", "flask", "users", "create", "ops@example.com", "--role", "admin",
         "--password-stdin"],
        input=OWN_PASSWORD + "\r\n", capture_output=True, text=True, env=env, cwd=root, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert OWN_PASSWORD not in result.stdout + result.stderr
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == "ops@example.com"))
        assert user is not None
        assert user.check_password(OWN_PASSWORD)


# --- flask demo seed -------------------------------------------------------------------


def test_it_seeds_a_demo_organisation(app, runner):
    result = runner.invoke(args=["demo", "seed"])
    assert result.exit_code == 0, result.output
    users = _users(app)
    by_role = {role: [u for u in users if u.role == role] for role in ("admin", "lead", "member")}
    assert len(by_role["admin"]) == 1
    assert len(by_role["lead"]) == 1
    assert len(by_role["member"]) == 3
    team = by_role["lead"][0].team
    assert team is not None
    in_team = [u for u in by_role["member"] if u.team is not None]
    assert len(in_team) == 2
    assert {u.team.name for u in in_team} == {team.name}
    assert len([u for u in by_role["member"] if u.team is None]) == 1


def test_it_prints_each_demo_password_once_and_the_admin_signs_in(app, runner, client, auth):
    result = runner.invoke(args=["demo", "seed"])
    assert result.exit_code == 0, result.output
    logins = DEMO_LINE.findall(result.output)
    assert len(logins) == 5
    for _role, _email, password in logins:
        assert result.output.count(password) == 1
    [(_, admin_email, admin_password)] = [login for login in logins if login[0] == "admin"]
    assert auth.login(admin_email, admin_password).status_code == 302
    assert client.get("/admin").status_code == 200


def test_it_seeds_only_once(app, runner):
    first = runner.invoke(args=["demo", "seed"])
    assert first.exit_code == 0, first.output
    counts = (_count(app, User), _count(app, Team), _count(app, AuditEvent))
    second = runner.invoke(args=["demo", "seed"])
    assert second.exit_code == 0, second.output
    assert DEMO_LINE.findall(second.output) == []
    assert (_count(app, User), _count(app, Team), _count(app, AuditEvent)) == counts


def test_it_completes_a_partly_seeded_demo(app, runner):
    # An operator made the admin by hand first; the seed adds the rest and leaves it alone.
    made = _create(runner, "Admin@Example.com", "--role", "admin", "--password-stdin",
                   input=OWN_PASSWORD + "\n")
    assert made.exit_code == 0, made.output
    result = runner.invoke(args=["demo", "seed"])
    assert result.exit_code == 0, result.output
    logins = DEMO_LINE.findall(result.output)
    assert "admin" not in [role for role, _email, _password in logins]
    assert len(logins) == 4
    assert _count(app, User) == 5


def test_it_keeps_the_demo_logins_readable_only_by_the_owner(app, runner):
    assert runner.invoke(args=["demo", "seed"]).exit_code == 0
    path = Path(app.instance_path) / "demo-logins.txt"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(DEMO_LINE.findall(path.read_text())) == 5
