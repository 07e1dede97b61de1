"""`make load`: start the service, run Locust headless for a bounded time, stop it, pass on the verdict.

    python -m load.run [--duration-s 60] [--profile step|spike] [-- extra locust arguments]

The service (`dialogic serve`) binds 127.0.0.1 on a free port and is used once /health/ready
answers. Locust writes CSV and HTML reports to load/reports/ (the service's log goes beside them).
The exit code is Locust's: non-zero when a request failed or the SLO gate in load/locustfile.py
(error rate, p99, throughput) was missed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from load.server import REPO, serve, service_argv

REPORTS = REPO / "load" / "reports"
GRACE_S = 60.0  # Locust's start-up and shutdown, beyond the profile's duration


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m load.run", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--duration-s", type=float, default=float(os.environ.get("DIALOGIC_LOAD_DURATION_S", 60))
    )
    parser.add_argument(
        "--profile", choices=("step", "spike"), default=os.environ.get("DIALOGIC_LOAD_PROFILE", "step")
    )
    parser.add_argument("--reports", type=Path, default=REPORTS, help="where the reports go")
    parser.add_argument("locust_args", nargs="*", help="passed on to Locust (after --)")
    args = parser.parse_args(argv)

    args.reports.mkdir(parents=True, exist_ok=True)
    prefix = args.reports / f"load-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}-{args.profile}"
    with serve(service_argv(), log_path=prefix.with_name(prefix.name + "-service.log")) as server:
        command = [
            sys.executable, "-m", "locust", "-f", str(REPO / "load" / "locustfile.py"), "--headless",
            "--host", server.base, "--load-profile", args.profile, "--load-duration-s", str(args.duration_s),
            "--csv", str(prefix), "--html", f"{prefix}.html", "--only-summary", *args.locust_args,
        ]  # fmt: skip
        try:
            code = subprocess.run(command, cwd=REPO, timeout=args.duration_s + GRACE_S).returncode
        except subprocess.TimeoutExpired:
            print(f"load: Locust did not finish within {args.duration_s + GRACE_S:.0f} s", file=sys.stderr)
            code = 1
    print(f"load: {'PASS' if code == 0 else 'FAIL'} (reports: {prefix}*)")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
