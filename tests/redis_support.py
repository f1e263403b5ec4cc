"""Real Redis servers for the tests, each on a free loopback port and keeping nothing on disk
(the machine's own Redis at 6379 is shared: never flushed here). A standalone server, and a
3-master Redis Cluster made with `redis-cli --cluster create`."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import redis

REDIS_SERVER = shutil.which("redis-server") or "redis-server"
REDIS_CLI = shutil.which("redis-cli") or "redis-cli"


def free_port(cluster: bool = False) -> int:
    """A loopback port nothing listens on now (bind to 0, let the kernel pick). `cluster`: a
    cluster node also listens on port + 10000 (its bus), so that one must exist and be free."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if not cluster:
            return port
        if port + 10000 <= 65535 and _is_free(port + 10000):
            return port


def _is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _wait_ready(port: int, process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    client = redis.Redis(port=port, socket_connect_timeout=0.5)
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server on port {port} exited with {process.returncode}")
        with contextlib.suppress(redis.RedisError):
            if client.ping():
                client.close()
                return
        time.sleep(0.05)
    raise RuntimeError(f"redis-server on port {port} did not answer in {timeout:g} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def redis_server(*extra: str, folder: Path | None = None) -> Iterator[int]:
    """A redis-server of the test's own; yields its port, stops it at the end."""
    port = free_port(cluster="--cluster-enabled" in extra)
    with tempfile.TemporaryDirectory(prefix="skiplock-redis-") as temp:
        process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(folder or temp), *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_ready(port, process)
            yield port
        finally:
            _stop(process)


@contextlib.contextmanager
def redis_cluster(masters: int = 3) -> Iterator[Sequence[int]]:
    """A Redis Cluster of `masters` masters and no replicas; yields their ports."""
    with tempfile.TemporaryDirectory(prefix="skiplock-cluster-") as temp, \
            contextlib.ExitStack() as stack:
        ports = []
        for n in range(masters):
            folder = Path(temp, str(n))
            folder.mkdir()
            ports.append(stack.enter_context(redis_server(
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", "2000", folder=folder)))
        subprocess.run([REDIS_CLI, "--cluster", "create",
                        *(f"127.0.0.1:{port}" for port in ports),
                        "--cluster-replicas", "0", "--cluster-yes"],
                       check=True, capture_output=True, timeout=60)
        _wait_cluster_ok(ports)
        yield ports


def _wait_cluster_ok(ports: Sequence[int], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = []
        for port in ports:
            info = redis.Redis(port=port, decode_responses=True).cluster("info")
            states.append(info.get("cluster_state") if isinstance(info, dict) else info)
        if all(state == "ok" or "cluster_state:ok" in str(state) for state in states):
            return
        time.sleep(0.1)
    raise RuntimeError("the test cluster did not reach cluster_state:ok")
