"""Starting the web server: one process, or several sharing one listening socket.

A web process runs Django's views on one core at most (one interpreter, one
GIL), so a machine with cores to spare serves more requests with more
processes. They share the socket this process opens (`--fd`), and the kernel
hands each new connection to one of them: no proxy needed.

WEB_SERVER picks the ASGI server; each serves the whole application (HTTP and
the WebSockets), since one port cannot be split by protocol without a proxy:
  daphne   (default) Twisted-based, the Channels project's own server.
  uvicorn  uvicorn with httptools and uvloop when they are installed (they
           are pinned in requirements.txt), websockets for the sockets.
See README "Performance" for the two measured side by side."""
from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APPLICATION = "orchestrator_site.asgi:application"
SERVERS = ("daphne", "uvicorn")


def daphne_logging(env: dict, quiet: bool) -> list[str]:
    """No access log unless ACCESS_LOG names one ("-" for standard output, or
    a file): a line per request and per WebSocket event is work the web
    process does for every run, read by nobody. Warnings and errors still show."""
    access_log = env.get("ACCESS_LOG", "")
    if access_log and not quiet:
        return ["-v", "1", "--access-log", access_log]
    return ["-v", "0"]


def uvicorn_options(env: dict, quiet: bool) -> list[str]:
    """The fast parts when present (the pure-Python fallbacks work, slower);
    no lifespan (Django has none); the access log only when ACCESS_LOG is set
    (uvicorn writes it to standard output, whatever the value names)."""
    options = ["--lifespan", "off", "--ws", "websockets", "--log-level", "warning" if not quiet else "error"]
    if importlib.util.find_spec("httptools"):
        options += ["--http", "httptools"]
    if importlib.util.find_spec("uvloop"):
        options += ["--loop", "uvloop"]
    if not env.get("ACCESS_LOG") or quiet:
        options.append("--no-access-log")
    return options


def web_server(env: dict) -> str:
    server = (env.get("WEB_SERVER") or "daphne").strip().lower()
    if server not in SERVERS:
        raise SystemExit(f"WEB_SERVER={server!r}: choose one of {', '.join(SERVERS)}")
    return server


def _command(server: str, env: dict, quiet: bool, bind: list[str]) -> list[str]:
    python = sys.executable
    if server == "uvicorn":
        return [python, "-m", "uvicorn", *uvicorn_options(env, quiet), *bind, APPLICATION]
    return [python, "-m", "daphne", *daphne_logging(env, quiet), *bind, APPLICATION]


def web_spawners(host: str, port: int, processes: int, env: dict, quiet: bool = False) -> list:
    """One callable per web process that starts it (again): a supervisor
    restarts a process that died. Several share a socket held open here."""
    server = web_server(env)
    output = {"stderr": subprocess.DEVNULL} if quiet else {}
    if processes <= 1:
        host_flag = "--host" if server == "uvicorn" else "-b"
        port_flag = "--port" if server == "uvicorn" else "-p"
        command = _command(server, env, quiet, [host_flag, host, port_flag, str(port)])
        return [lambda: subprocess.Popen(command, cwd=ROOT, env=env, **output)]
    listener = socket.create_server((host, port), backlog=1024)
    fd = listener.fileno()
    command = _command(server, env, quiet, ["--fd", str(fd)])
    spawn = lambda: subprocess.Popen(command, cwd=ROOT, env=env, pass_fds=[fd], **output)  # noqa: E731
    spawn.listener = listener  # kept open for restarts
    return [spawn] * processes


def start_web(host: str, port: int, processes: int, env: dict, quiet: bool = False) -> list[subprocess.Popen]:
    """The web processes, started once (for benchmarks and tests that own them)."""
    return [spawn() for spawn in web_spawners(host, port, processes, env, quiet)]
