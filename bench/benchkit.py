"""What the benchmarks share: alternating rounds, child processes, and gunicorn servers.

- :func:`alternate` runs every contender once per round, the order reversed every other round,
  so a slow spell of the shared machine does not always fall on the same side; the figures are
  then taken as the best (:func:`best`: load only ever adds time) or the median of the rounds.
- :func:`run_child` runs a benchmark's measuring child in a fresh interpreter (one app, one set
  of mapped models per process) and returns the JSON it prints last.
- :class:`Server` starts gunicorn with the Procfile's ``web:`` settings (:func:`procfile_web`)
  on a free port and waits until it answers; :func:`fetch` is one GET.

Used by bench/bench_portal.py and bench/bench_request_path.py.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent

T = TypeVar("T")
R = TypeVar("R")


# --- rounds -------------------------------------------------------------------------------------


def alternate(
    rounds: int,
    contenders: Sequence[T],
    run: Callable[[T, int], R],
    name: Callable[[T], str] = str,
) -> dict[str, list[R]]:
    """``run(contender, round)`` for each contender in each of ``rounds`` rounds, who goes
    first alternating (as given in even rounds, reversed in odd ones); the results per
    contender's ``name``, in round order."""
    results: dict[str, list[R]] = {name(c): [] for c in contenders}
    for r in range(rounds):
        order = contenders if r % 2 == 0 else contenders[::-1]
        for contender in order:
            results[name(contender)].append(run(contender, r))
    return results


def best(rounds: Sequence[dict[str, Any]], key: str) -> float:
    """The lowest time of the rounds (load on a shared machine only ever adds time)."""
    return min(r[key] for r in rounds)


def median(rounds: Sequence[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in rounds)


def run_child(script: Path | str, *args: str, env: dict[str, str] | None = None) -> Any:
    """Run ``python script args`` in a temporary working folder; the JSON of its last line."""
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [sys.executable, str(script), *args],
            capture_output=True,
            text=True,
            cwd=tmp,
            env=env,
        )
    if out.returncode != 0:
        raise RuntimeError(f"{script} {' '.join(args)} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- servers ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def procfile_web(port: int, app_spec: str) -> list[str]:
    """The Procfile's ``web:`` command with its defaults filled in, bound to ``port``, serving
    ``app_spec``: references run under exactly the settings PostalOps runs under."""
    line = next(
        ln.split(":", 1)[1]
        for ln in (ROOT / "Procfile").read_text().splitlines()
        if ln.startswith("web:")
    )
    line = re.sub(r"\$\{PORT:-\d+\}", str(port), line)
    line = re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: os.environ.get(m[1], m[2]), line)
    args = shlex.split(line)
    args[0] = str(Path(sys.executable).parent / args[0])
    args[-1] = app_spec
    return args


class Server:
    """gunicorn serving ``app_spec`` (``bench/`` on its path) under the Procfile's settings,
    started and answering ``probe`` with 200 (else ``RuntimeError`` naming its log,
    ``<log_prefix>-<name>.log`` in the instance folder)."""

    def __init__(
        self, name: str, app_spec: str, env: dict[str, str], probe: str, log_prefix: str = "bench"
    ) -> None:
        self.name, self.port = name, free_port()
        cmd = procfile_web(self.port, app_spec)
        cmd[1:1] = ["--pythonpath", str(BENCH)]
        self.log = Path(env["POSTALOPS_INSTANCE_PATH"]) / f"{log_prefix}-{name}.log"
        with self.log.open("w") as log:
            self.proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=log)
        deadline = time.monotonic() + 90
        while True:
            try:
                status, _ = fetch(self.port, probe, {})
                if status == 200:
                    break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{name} did not start; see {self.log}")
            time.sleep(0.3)
        self.settings = " ".join(cmd[cmd.index("--workers") : cmd.index("--timeout")])

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def fetch(port: int, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()
