"""`python artisan.py dashboard` as a user starts it: a busy port, a database that is down
(issue 26, items 10 and 21)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request

from tests.dashboard.test_browser import answers, free_port
from tests.support import ROOT, artisan, wait_for

TOKEN = "command-test-token-0123456789abcdef"


def test_a_busy_port_is_one_line_and_exit_1(database_url) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = artisan("dashboard", "--port", str(port), env={"DASHBOARD_TOKEN": TOKEN},
                         timeout=30)
    assert result.returncode == 1
    assert result.stdout == ""  # no "Dashboard at …" line for a server that never ran
    assert result.stderr.strip().splitlines() == [
        f"error: cannot listen on 127.0.0.1:{port}: Address already in use (another "
        "dashboard or server on it? choose another --port or --host)"]


def get(url: str, token: str | None = TOKEN) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"}
                                     if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode()


def test_it_starts_while_the_database_is_down_and_says_so(database_url) -> None:
    port = free_port()
    env = {**os.environ, "DASHBOARD_TOKEN": TOKEN,
           "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/nowhere"}
    server = subprocess.Popen([sys.executable, "artisan.py", "dashboard", "--port", str(port)],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: answers(port) or server.poll() is not None, timeout=30)
        assert server.poll() is None, server.communicate(timeout=5)
        base = f"http://127.0.0.1:{port}"
        status, body = get(f"{base}/api/queues")
        assert status == 503
        assert "cannot connect to database at 127.0.0.1:1" in json.loads(body)["error"]
        status, body = get(f"{base}/api/health")
        assert status == 503
        assert json.loads(body)["reasons"][0].startswith("database unreachable")
        assert get(f"{base}/login", token=None)[0] == 200  # the login form needs no database
    finally:
        server.terminate()
        _out, err = server.communicate(timeout=10)
    assert err.splitlines()[0].startswith("warning: cannot connect to database at "
                                          "127.0.0.1:1")
    assert "Traceback" not in err
