"""Starting daphne: one process, or several sharing one listening socket.

A daphne process runs Django's views on one core at most (one interpreter,
one GIL), so a machine with cores to spare serves more requests with more
processes. They share the socket this process opens (`daphne --fd`), and the
kernel hands each new connection to one of them: no proxy needed."""
from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APPLICATION = "orchestrator_site.asgi:application"


def daphne_logging(env: dict, quiet: bool) -> list[str]:
    """No access log unless ACCESS_LOG names one ("-" for standard output, or
    a file): a line per request and per WebSocket event is work the web
    process does for every run, read by nobody. Warnings and errors still show."""
    access_log = env.get("ACCESS_LOG", "")
    if access_log and not quiet:
        return ["-v", "1", "--access-log", access_log]
    return ["-v", "0"]


def web_spawners(host: str, port: int, processes: int, env: dict, quiet: bool = False) -> list:
    """One callable per daphne process that starts it (again): a supervisor
    restarts a process that died. Several share a socket held open here."""
    python = sys.executable
    output = {"stderr": subprocess.DEVNULL} if quiet else {}
    verbosity = daphne_logging(env, quiet)
    if processes <= 1:
        return [lambda: subprocess.Popen([python, "-m", "daphne", *verbosity, "-b", host, "-p", str(port), APPLICATION],
                                         cwd=ROOT, env=env, **output)]
    listener = socket.create_server((host, port), backlog=1024)
    fd = listener.fileno()
    spawn = lambda: subprocess.Popen([python, "-m", "daphne", *verbosity, "--fd", str(fd), APPLICATION],  # noqa: E731
                                     cwd=ROOT, env=env, pass_fds=[fd], **output)
    spawn.listener = listener  # kept open for restarts
    return [spawn] * processes


def start_web(host: str, port: int, processes: int, env: dict, quiet: bool = False) -> list[subprocess.Popen]:
    python = sys.executable
    output = {"stderr": subprocess.DEVNULL} if quiet else {}
    verbosity = daphne_logging(env, quiet)
    if processes <= 1:
        return [subprocess.Popen([python, "-m", "daphne", *verbosity, "-b", host, "-p", str(port), APPLICATION], cwd=ROOT, env=env, **output)]
    listener = socket.create_server((host, port), backlog=1024)
    try:
        return [
            subprocess.Popen([python, "-m", "daphne", *verbosity, "--fd", str(listener.fileno()), APPLICATION],
                             cwd=ROOT, env=env, pass_fds=[listener.fileno()], **output)
            for _ in range(processes)
        ]
    finally:
        listener.close()  # the children hold it now
