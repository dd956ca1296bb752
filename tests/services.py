"""Test infrastructure: a reachable PostgreSQL and Redis for the test suite, whatever the machine.

:func:`postgres_url` and :func:`redis_url` look, in order, for:

1. an explicit URL in ``BATON_TEST_POSTGRES_URL`` / ``BATON_TEST_REDIS_URL``;
2. a server on ``127.0.0.1`` at the default port (5432 / 6379), unless
   ``BATON_TEST_FORCE_THROWAWAY=1``;
3. a **throwaway** server started for this process on a free port, in a temporary
   directory, stopped and removed at exit. Missing server binaries are installed with
   ``apt-get`` when running as root (Debian/Ubuntu).

Each test process (each pytest-xdist worker too) gets its own fresh PostgreSQL database
``baton_test_<random>`` (or, without CREATE DATABASE rights, its own schema), dropped at
exit, so concurrent runs never see each other's rows. Redis is shared: use unique key
prefixes rather than ``FLUSHDB`` on a shared server. All functions are cached per process.
"""

from __future__ import annotations

import atexit
import fcntl
import functools
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from sqlalchemy.engine import URL, make_url

from baton.adapters.db import normalise_url

FORCE_ENV = "BATON_TEST_FORCE_THROWAWAY"
LOCAL_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
LOCAL_REDIS = ("127.0.0.1", 6379)
START_TIMEOUT_S = 60.0


def _forced_throwaway() -> bool:
    return os.environ.get(FORCE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def _is_root() -> bool:
    return os.geteuid() == 0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(host: str, port: int, timeout_s: float = 0.5) -> bool:
    """True when a TCP connection to ``host:port`` succeeds within ``timeout_s`` seconds."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def _run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=tempfile.gettempdir())
    if proc.returncode != 0:
        command = " ".join(cmd)
        raise RuntimeError(f"{what} failed ({proc.returncode}): {command}\n{proc.stdout}\n{proc.stderr}")


def apt_install(*packages: str) -> None:
    """``apt-get update && apt-get install -y packages``, serialised across processes by a file lock.

    Raises:
        RuntimeError: when not root, or when apt-get fails (the message has its output).
    """
    if not _is_root():
        names = ", ".join(packages)
        raise RuntimeError(f"need {names} but not root: install them or set the BATON_TEST_*_URL env vars")
    os.environ.setdefault("DEBIAN_FRONTEND", "noninteractive")
    with open(Path(tempfile.gettempdir()) / "baton-test-apt.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _run(["apt-get", "update"], "apt-get update")
        _run(["apt-get", "install", "-y", "--no-install-recommends", *packages], "apt-get install")


# --- PostgreSQL ---------------------------------------------------------------------------------


def _pg_bin_dir() -> Path | None:
    def version(path: str) -> float:
        try:
            return float(Path(path).parent.name)
        except ValueError:
            return 0.0

    for bindir in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True):
        if (Path(bindir) / "initdb").exists() and (Path(bindir) / "pg_ctl").exists():
            return Path(bindir)
    initdb = shutil.which("initdb")
    if initdb and (Path(initdb).parent / "pg_ctl").exists():
        return Path(initdb).parent
    return None


def _as_postgres(cmd: list[str]) -> list[str]:
    """``cmd`` run as the ``postgres`` OS user when we are root (initdb refuses to run as root)."""
    return ["runuser", "-u", "postgres", "--", *cmd] if _is_root() else cmd


def start_throwaway_postgres() -> str:
    """Start a private PostgreSQL server for this process; return its URL (database ``postgres``).

    The cluster lives in a temporary directory (data, Unix socket, log) and is stopped and
    deleted at exit. Raises:
        RuntimeError: when no server binaries can be found or installed, or it does not start.
    """
    bindir = _pg_bin_dir()
    if bindir is None:
        apt_install("postgresql")
        bindir = _pg_bin_dir()
        if bindir is None:
            raise RuntimeError("postgresql installed but no initdb/pg_ctl under /usr/lib/postgresql/*/bin")
    tmp = Path(tempfile.mkdtemp(prefix="baton-pg-"))
    data, sock, log = tmp / "data", tmp / "sock", tmp / "postgres.log"
    sock.mkdir()
    if _is_root():
        for path in (tmp, sock):
            shutil.chown(path, user="postgres", group="postgres")
    pg_ctl = str(bindir / "pg_ctl")

    def cleanup() -> None:
        subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "-m", "immediate", "stop"]),
                       capture_output=True, check=False, cwd=tempfile.gettempdir())
        shutil.rmtree(tmp, ignore_errors=True)

    atexit.register(cleanup)
    _run(_as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
                       "-E", "UTF8", "--no-sync"]), "initdb")
    last_error: Exception | None = None
    for _ in range(3):  # the free port may be taken between picking and binding it
        port = free_port()
        opts = (f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off")
        try:
            _run(_as_postgres([pg_ctl, "-D", str(data), "-l", str(log), "-w", "-t", str(int(START_TIMEOUT_S)),
                               "-o", opts, "start"]), "pg_ctl start")
            return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
        except RuntimeError as exc:
            last_error = exc
    log_text = log.read_text(errors="replace") if log.exists() else ""
    raise RuntimeError(f"throwaway PostgreSQL did not start: {last_error}\n{log_text}")


@functools.cache
def postgres_server_url() -> str:
    """A URL of a reachable PostgreSQL server (env, local default, or a throwaway one)."""
    explicit = os.environ.get("BATON_TEST_POSTGRES_URL")
    if explicit:
        return normalise_url(explicit)
    if not _forced_throwaway() and port_open("127.0.0.1", 5432):
        return LOCAL_POSTGRES_URL
    return start_throwaway_postgres()


def libpq_conninfo(url: str | URL) -> str:
    """The SQLAlchemy URL as a libpq URI psycopg accepts (driver suffix removed)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@functools.cache
def postgres_url() -> str:
    """A URL to a fresh, empty PostgreSQL database (or schema) private to this process.

    Tries ``CREATE DATABASE baton_test_<random>``; without the privilege, creates a schema of
    that name in the server URL's database and selects it through ``search_path``. Either is
    dropped at exit.

    Raises:
        RuntimeError: when no server can be reached or started.
        psycopg.Error: when the server refuses both the database and the schema.
    """
    server = make_url(postgres_server_url())
    name = f"baton_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(libpq_conninfo(server), autocommit=True) as conn:
        try:
            conn.execute(f'CREATE DATABASE "{name}"')
        except psycopg.errors.InsufficientPrivilege:
            conn.execute(f'CREATE SCHEMA "{name}"')
            atexit.register(_drop, server, f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
            return server.update_query_dict({"options": f"-csearch_path={name}"}).render_as_string(
                hide_password=False)
    atexit.register(_drop, server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return server.set(database=name).render_as_string(hide_password=False)


def _drop(server: URL, statement: str) -> None:
    try:
        with psycopg.connect(libpq_conninfo(server), autocommit=True, connect_timeout=5) as conn:
            conn.execute(statement)  # type: ignore[arg-type]
    except psycopg.Error as exc:  # the server may already be gone; never fail the run at exit
        print(f"baton tests: could not clean up ({statement}): {exc}", file=sys.stderr)


# --- Redis ----------------------------------------------------------------------------------------


def redis_ping(host: str, port: int, timeout_s: float = 1.0) -> bool:
    """True when a Redis server at ``host:port`` answers ``PING`` with ``PONG``."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as s:
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def start_throwaway_redis() -> str:
    """Start a private, non-persistent ``redis-server`` for this process; return its URL.

    Raises:
        RuntimeError: when redis-server cannot be found or installed, or does not answer PING.
    """
    server = shutil.which("redis-server") or shutil.which("redis-server", path="/usr/bin:/usr/sbin")
    if server is None:
        apt_install("redis-server")
        server = shutil.which("redis-server") or "/usr/bin/redis-server"
    tmp = Path(tempfile.mkdtemp(prefix="baton-redis-"))
    port = free_port()
    log = open(tmp / "redis.log", "wb")  # noqa: SIM115 - closed by cleanup
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--daemonize", "no", "--dir", str(tmp)],
        stdout=log, stderr=subprocess.STDOUT, cwd=tmp,
    )

    def cleanup() -> None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)

    atexit.register(cleanup)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if redis_ping("127.0.0.1", port):
            return f"redis://127.0.0.1:{port}/0"
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    output = (tmp / "redis.log").read_text(errors="replace")
    raise RuntimeError(f"throwaway redis-server did not start: {output}")


@functools.cache
def redis_url() -> str:
    """A URL of a reachable Redis (env ``BATON_TEST_REDIS_URL``, local 6379, or a throwaway server)."""
    explicit = os.environ.get("BATON_TEST_REDIS_URL")
    if explicit:
        return explicit
    if not _forced_throwaway() and redis_ping(*LOCAL_REDIS):
        return f"redis://{LOCAL_REDIS[0]}:{LOCAL_REDIS[1]}/0"
    return start_throwaway_redis()
