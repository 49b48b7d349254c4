"""Fails the test run when coverage of src/ drops under the floor: at least TOTAL % of
lines overall and no module under MODULE % (raised as features land). Reads the JSON
report pytest-cov wrote."""

from __future__ import annotations

import json
import sys

TOTAL = 90.0
MODULE = 80.0


def main(path: str) -> int:
    report = json.loads(open(path, encoding="utf-8").read())
    total = report["totals"]["percent_covered"]
    lines = report["totals"]
    print(f"coverage: {total:.1f}% of src/ (lines {lines['covered_lines']}/{lines['num_statements']}, "
          f"branches {lines.get('covered_branches', 0)}/{lines.get('num_branches', 0)}); "
          f"floor {TOTAL:.0f}% overall, {MODULE:.0f}% per module")
    low = sorted((f["summary"]["percent_covered"], name) for name, f in report["files"].items()
                 if f["summary"]["num_statements"] and f["summary"]["percent_covered"] < MODULE)
    for pct, name in low:
        print(f"  under the module floor: {name} {pct:.1f}%")
    if total < TOTAL or low:
        print("coverage floor not met", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else ".coverage.json"))
