"""Servers and load for bench/pages.py: gunicorn (4 sync workers) for the app and for a Flask
"hello", signing in over HTTP, and requests/s under 8 connections with wrk."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 4
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def gunicorn(app: str, env: dict[str, str], timeout: int, ready: str = "/") -> Iterator[str]:
    """Serve ``app`` (``module:attribute``) on a free port; yield its base URL; stop it."""
    port = free_port()
    command = [
        sys.executable, "-m", "gunicorn", app, "--workers", str(WORKERS),
        "--bind", f"127.0.0.1:{port}", "--timeout", str(timeout), "--graceful-timeout", "5",
        "--log-level", "warning",
    ]  # fmt: skip
    log = open(f"/tmp/bench-pages-{port}.log", "w")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        command, cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(base + ready, timeout=30)
                break
            except requests.RequestException:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"gunicorn {app} did not start: see {log.name}") from None
                time.sleep(0.3)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def csrf_token(session: requests.Session, url: str, timeout: float) -> str:
    page = session.get(url, timeout=timeout)
    found = CSRF.search(page.text)
    if not found:
        raise RuntimeError(f"no CSRF token on {url} (HTTP {page.status_code})")
    return found.group(1)


def sign_in(base: str, email: str, password: str) -> requests.Session:
    session = requests.Session()
    token = csrf_token(session, base + "/login", 30)
    answer = session.post(
        base + "/login",
        data={"email": email, "password": password, "csrf_token": token},
        allow_redirects=False,
        timeout=30,
    )
    if answer.status_code != 302:
        raise RuntimeError(f"signing in as {email} failed (HTTP {answer.status_code})")
    return session


def requests_per_second(url: str, seconds: int, cookie: str = "") -> float | None:
    """wrk with 8 connections on 2 threads; None without wrk (apt-get install -y wrk)."""
    if shutil.which("wrk") is None:
        return None
    command = ["wrk", "-t2", "-c8", f"-d{seconds}s", "--timeout", "30s", url]
    if cookie:
        command[1:1] = ["-H", f"Cookie: {cookie}"]
    output = subprocess.run(command, capture_output=True, text=True, check=False).stdout
    found = re.search(r"Requests/sec:\s+([\d.]+)", output)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if errors:
        print(f"    wrk {url}: {errors.group(1)} answers were errors", flush=True)
    return float(found.group(1)) if found else None
