"""Fuzz every operation of /api/v1/openapi.json with schemathesis (``make fuzz``; a step of
.ci/run).

It builds a throw-away instance (a SQLite file in a temporary folder, or the database named by
``--database-url``), applies the migrations, seeds a small unit tree with one admin token at
``cn`` and one city token at ``cn.henan.zhengzhou`` (both holding every permission), serves the
app on 127.0.0.1 with werkzeug and runs ``schemathesis run`` against it once per token. No demo
data: the tree and the tokens only, so the run is quick and deterministic (``--seed``).

A run passes when every installed plugin loaded (otherwise its operations would silently be
left out) and schemathesis finds no server error (5xx), no response that breaks its documented
schema, no undocumented status code and no undocumented content type (checks
``not_a_server_error``, ``response_schema_conformance``, ``status_code_conformance``,
``content_type_conformance``).

Skipped operations (see SKIPPED below and docs/api.md): they would change the run's own
ground rules half-way through, not the API's robustness.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]

# operationId -> why it is not fuzzed.
SKIPPED = {
    "core_api.revoke_token.delete": (
        "revoking a token by a generated id can revoke the fuzzer's own token; every later "
        "request would then answer 401 and test nothing"
    ),
    "core_api.set_plugin.put": (
        "turning plugins off for the seeded units would make every later request to that "
        "plugin answer 404 and test nothing"
    ),
}

CITY = "cn.henan.zhengzhou"
CHECKS = (
    "not_a_server_error,response_schema_conformance,status_code_conformance,"
    "content_type_conformance"
)


def build_instance(tmp: Path, database_url: str | None) -> tuple[object, dict[str, str]]:
    """A migrated instance with the test tree and two all-permission tokens."""
    os.environ["POSTALOPS_INSTANCE_PATH"] = str(tmp)
    os.environ.pop("POSTALOPS_REDIS_URL", None)  # the in-process broker: nothing to clean up
    from postalops import migrate
    from postalops.app import create_app
    from postalops.auth import create_token
    from postalops.config import Settings
    from postalops.models import OrgUnit
    from postalops.testing import build_tree

    url = database_url or f"sqlite:///{tmp / 'fuzz.sqlite'}"
    app = create_app(Settings.from_env(database_url=url, redis_url=None))
    db = app.extensions["postalops.db"]
    registry = app.extensions["postalops.plugins"]
    migrate.upgrade(db, registry)
    with db.transaction(None) as s:
        empty = s.exec(sa.select(sa.func.count()).select_from(OrgUnit)).one()[0] == 0
    if empty:
        build_tree(app)  # a database given with --database-url may hold a tree (the demo's)
    permissions = sorted({p.name for p in registry.permissions()})
    tokens = {}
    with db.transaction(None) as s:
        for label, unit in (("admin", "cn"), ("city", CITY)):
            _, secret = create_token(
                s,
                registry,
                name=f"fuzz-{label}",
                unit_code=unit,
                permissions=permissions,
                created_by="fuzz",
            )
            tokens[label] = secret
    return app, tokens


def run_schemathesis(base: str, token: str, args: argparse.Namespace, label: str) -> int:
    report_dir = Path(args.report_dir) / label
    cmd = [
        str(Path(sys.executable).parent / "schemathesis"),
        "run",
        f"{base}/api/v1/openapi.json",
        "--url",
        base,
        "-H",
        f"Authorization: Bearer {token}",
        "--checks",
        args.checks,
        "--max-examples",
        str(args.max_examples),
        "--workers",
        "1",
        "--seed",
        str(args.seed),
        "--phases",
        args.phases,
        "--suppress-health-check",
        "all",
        "--request-timeout",
        "30",
        "--report",
        "junit",
        "--report-dir",
        str(report_dir),
        "--generation-database",
        "none",
        "--no-color",
    ]
    for op_id in SKIPPED:
        cmd += ["--exclude-operation-id", op_id]
    print(f"\n--- schemathesis with the {label} token ---", flush=True)
    return subprocess.call(cmd, cwd=ROOT)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-examples", type=int, default=5, help="fuzzing cases per operation")
    parser.add_argument("--seed", type=int, default=20261207)
    parser.add_argument("--phases", default="examples,coverage,fuzzing")
    parser.add_argument("--tokens", default="admin,city", help="which tokens to run with")
    parser.add_argument("--checks", default=CHECKS, help="schemathesis checks (CI: the default)")
    parser.add_argument(
        "--database-url", default=None, help="a throw-away database (default: SQLite in a tmp dir)"
    )
    parser.add_argument("--report-dir", default=str(ROOT / "test-artifacts" / "fuzz"))
    args = parser.parse_args(argv)

    from werkzeug.serving import make_server

    # one line per request would bury schemathesis's report; server errors are still logged
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    with tempfile.TemporaryDirectory(prefix="postalops-fuzz-") as d:
        app, tokens = build_instance(Path(d), args.database_url)
        registry = app.extensions["postalops.plugins"]
        broken = sorted(k for k, p in registry.plugins.items() if p.status == "failed")
        if broken:
            app.extensions["postalops.jobs"].stop_workers()
            app.extensions["postalops.db"].dispose()
            print(f"fuzz: FAILED: plugins that failed to load, operations untested: {broken}")
            return 1
        srv = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=srv.serve_forever, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{srv.server_port}"
        print("skipped operations:", flush=True)
        for op_id, why in SKIPPED.items():
            print(f"  {op_id}: {why}", flush=True)
        status = 0
        try:
            for label in args.tokens.split(","):
                if run_schemathesis(base, tokens[label], args, label) != 0:
                    status = 1
        finally:
            srv.shutdown()
            app.extensions["postalops.jobs"].stop_workers()
            app.extensions["postalops.db"].dispose()
    print(f"\nfuzz: {'FAILED' if status else 'passed'}", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
