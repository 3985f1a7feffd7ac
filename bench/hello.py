"""The baseline: a bare Flask app, served by the same gunicorn settings as Worklog.

    gunicorn -c gunicorn.conf.py --chdir bench hello:app
"""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    return "hello"
