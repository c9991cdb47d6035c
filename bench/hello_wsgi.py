"""The ceiling of the stack: a Flask "hello" served by the same gunicorn settings as the app
(bench/pages.py measures both in one run)."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    return "Hello, world"
