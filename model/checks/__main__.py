"""`python -m model.checks`: check the case files, or run the suite against an artifact.

`--validate FILE...` parses case files and checks their counts (for authors); without it the suite runs
against the artifact and prints the per-capability table and every failing test.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from model.checks import CASES_DIR, load, load_suite, markdown, problems, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.checks", description=__doc__)
    parser.add_argument("--validate", nargs="*", type=Path, help="case files to check (default: all)")
    parser.add_argument("--artifact", type=Path, default=None)
    parser.add_argument("--backend", choices=("fp32", "int8"), default="int8")
    parser.add_argument("--failures", action="store_true", help="print every failing test")
    args = parser.parse_args(argv)
    if args.validate is not None:
        paths = args.validate or sorted(CASES_DIR.glob("*.toml"))
        bad = 0
        for path in paths:
            cap = load(path)
            found = problems(cap)
            n_inv = sum(t.kind == "inv" for t in cap.tests())
            print(
                f"{path.name}: {len(cap.cases)} cases, {len(cap.flips)} flips, {n_inv} invariance tests"
                + ("" if not found else " -- " + "; ".join(found))
            )
            bad += bool(found)
        return 1 if bad else 0

    from model.runtime.classifier import ARTIFACT_DIR, Classifier

    clf = Classifier.load(args.artifact or ARTIFACT_DIR, backend=args.backend, threads=1)
    suite = load_suite()
    report = run(suite, lambda texts: [p.label for p in clf.predict(texts)])
    print(markdown(report, suite))
    if args.failures:
        for f in report.failures:
            print(json.dumps(f, ensure_ascii=False), file=sys.stderr)
    return 1 if report.below else 0


if __name__ == "__main__":
    raise SystemExit(main())
