"""A notebook server as a child process on loopback, for the end-to-end and host tests: started
in its own folder with its own Jupyter config, offline, and stopped on exit."""

from __future__ import annotations

import os
import pathlib
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def jupyter_server(app: str, root: pathlib.Path, port: int) -> list[str]:
    """`jupyter lab` or `jupyter notebook` on loopback, serving `root`, with no token or password."""
    return [
        sys.executable,
        "-m",
        "jupyter",
        app,
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--ServerApp.root_dir={root}",
        "--IdentityProvider.token=",
        "--ServerApp.password=",
        "--allow-root",
    ]


def server_env(root: pathlib.Path) -> dict[str, str]:
    env = dict(
        os.environ,
        HF_HUB_OFFLINE="1",
        JUPYTER_CONFIG_DIR=str(root / ".cfg"),
        JUPYTER_RUNTIME_DIR=str(root / ".rt"),
        JUPYTERLAB_SETTINGS_DIR=str(root / ".settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(root / ".ws"),
        MARIMO_SKIP_UPDATE_CHECK="1",
        PYTHONPATH=str(pathlib.Path(__file__).resolve().parents[2]),
    )
    env.pop("ANYWIDGET_HMR", None)
    return env


@contextmanager
def serve(name: str, argv: list[str], root: pathlib.Path, ready_url: str, start_timeout: float = 90) -> Iterator[None]:
    """Run a host's server in `root` until `ready_url` answers; stopped on exit. Its log is
    `root/<name>.log`, quoted when it fails to start."""
    log_path = root / f"{name}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, cwd=root, env=server_env(root), stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.time() + start_timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited: {log_path.read_text()[-3000:]}")
                try:
                    urllib.request.urlopen(ready_url, timeout=2)
                    break
                except urllib.error.HTTPError:
                    break  # an answer, even 404, means the server is up
                except OSError:
                    if time.time() > deadline:
                        raise RuntimeError(f"{name} did not start in {start_timeout} s: {log_path.read_text()[-3000:]}") from None
                    time.sleep(0.5)
            yield
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
