"""The Procfile topology: web (gunicorn), worker and scheduler as separate processes on the
local PostgreSQL and Redis; a job submitted over HTTP succeeds in the worker process."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_procfile_web_worker_scheduler_run_a_job(tmp_path):
    url = os.environ.get("POSTALOPS_DATABASE_URL", "")
    redis_url = os.environ.get("POSTALOPS_REDIS_URL")
    if not url.startswith("postgresql") or not redis_url:
        pytest.skip("the production topology needs PostgreSQL and Redis")
    bindir = Path(sys.executable).parent
    honcho = bindir / "honcho"
    assert honcho.exists(), "honcho is a dev dependency"
    name = f"postalops_deploy_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    port = free_port()
    env = dict(
        os.environ,
        POSTALOPS_DATABASE_URL=url.rsplit("/", 1)[0] + "/" + name,
        POSTALOPS_INSTANCE_PATH=str(tmp_path),
        PORT=str(port),
        WEB_WORKERS="1",
        POSTALOPS_SECRET_KEY="deploy-test-secret",
        PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    proc = None
    try:
        cli = [str(bindir / "postalops")]
        subprocess.run(cli + ["db", "upgrade"], env=env, check=True, capture_output=True)
        subprocess.run(
            cli + ["demo", "--skip-plugins"], env=env, check=True, capture_output=True, timeout=600
        )

        secret = subprocess.run(
            cli
            + [
                "tokens",
                "create",
                "--name",
                "deploy-test",
                "--unit",
                "cn.henan",
                "--permission",
                "core.jobs.run",
                "--permission",
                "core.jobs.view",
            ],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        shutil.copy(ROOT / "Procfile", tmp_path / "Procfile")
        proc = subprocess.Popen(
            [str(honcho), "start", "-f", str(tmp_path / "Procfile"), "-d", str(tmp_path)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while True:
            try:  # gunicorn binds the port before its worker has loaded the app
                if requests.get(base + "/healthz", timeout=10).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                pass

            assert time.monotonic() < deadline and proc.poll() is None, "web never came up"
            time.sleep(1)
        health = requests.get(base + "/readyz", timeout=5).json()
        assert health["checks"]["broker"] == {**health["checks"]["broker"], "status": "ok"}
        assert health["checks"]["broker"]["kind"] == "redis"
        headers = {"Authorization": f"Bearer {secret}"}
        resp = requests.post(
            base + "/api/v1/jobs/probe",
            json={"steps": 5, "delay_ms": 100},
            headers=headers,
            timeout=10,
        )
        assert resp.status_code == 202, resp.text
        job_id = resp.json()["id"]
        deadline = time.monotonic() + 180
        while True:
            job = requests.get(f"{base}/api/v1/jobs/{job_id}", headers=headers, timeout=5).json()
            if job["status"] in ("succeeded", "failed", "cancelled"):
                break
            assert time.monotonic() < deadline, f"job stuck at {job['status']}"
            time.sleep(0.5)
        assert job["status"] == "succeeded", job
        assert (job["done"], job["total"]) == (5, 5)
    finally:
        if proc is not None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
