"""scripts/learner-model: fit the learner model on response logs, evaluate it, split logs.

  fit   --responses R.csv --out params.json    per-concept BKT (EM), Elo, predictor weights,
                                               with held-out figures per concept
  eval  --train TRAIN.csv --test TEST.csv      fits on TRAIN, predicts every TEST row from
                                               the learner's earlier TEST rows; prints
                                               `name: value` lines (best model unprefixed)
  split --responses R.csv --train-out T.csv --test-out E.csv [--test-share 0.2]
                                               by learner (a learner's rows stay together)

CSV: user_id,skill_name,correct (ASSISTments layout), optional order_id, response_time_ms,
hints; rows in time order per learner. Exit status 2 on unusable input."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for _p in (str(ROOT), str(ROOT / "src")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from tools.learner_model import data  # noqa: E402


def _log(message: str) -> None:
    print(f"[learner-model] {message}", file=sys.stderr, flush=True)


def cmd_fit(args) -> int:
    from tools.learner_model import report

    rows = data.read_rows(args.responses)
    doc = report.fit_document(rows, restarts=args.restarts, holdout=args.holdout, tune=not args.no_tune,
                              source={"file": Path(args.responses).name}, log=_log)
    Path(args.out).write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    fit = doc.get("fit") or {}
    _log(f"wrote {args.out}: {len(doc['concepts'])} concepts; held-out auc {fit.get('auc')}")
    return 0


def cmd_eval(args) -> int:
    from tools.learner_model import report

    train = data.read_rows(args.train)
    test = data.read_rows(args.test)
    lines = report.evaluate(train, test, restarts=args.restarts, tune=not args.no_tune, pybkt=args.pybkt, log=_log)
    for name, value in lines:
        print(f"{name}: {value}", flush=True)
    return 0


def cmd_split(args) -> int:
    from tools.learner_model import report

    n_train, n_test = report.split_file(args.responses, args.train_out, args.test_out, args.test_share)
    _log(f"{n_train} training rows -> {args.train_out}, {n_test} test rows -> {args.test_out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/learner-model", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    sub = parser.add_subparsers(dest="command", required=True)
    fit = sub.add_parser("fit", help="fit per-concept parameters and write params.json")
    fit.add_argument("--responses", required=True, help="response log CSV")
    fit.add_argument("--out", required=True, help="where to write params.json")
    fit.add_argument("--holdout", type=float, default=0.2,
                     help="share of learners held out for the fit figures (default 0.2; 0 = none)")
    for p in (fit,):
        p.add_argument("--restarts", type=int, default=3, help="EM random restarts per concept (default 3)")
        p.add_argument("--no-tune", action="store_true", help="skip the Elo step-size search")
    ev = sub.add_parser("eval", help="fit on TRAIN, evaluate next-response prediction on TEST")
    ev.add_argument("--train", required=True)
    ev.add_argument("--test", required=True)
    ev.add_argument("--restarts", type=int, default=3, help="EM random restarts per concept (default 3)")
    ev.add_argument("--no-tune", action="store_true", help="skip the Elo step-size search")
    ev.add_argument("--pybkt", action="store_true",
                    help="also fit and evaluate pyBKT's standard BKT on the same files (slow: minutes)")
    sp = sub.add_parser("split", help="split a log by learner into training and test files")
    sp.add_argument("--responses", required=True)
    sp.add_argument("--train-out", required=True)
    sp.add_argument("--test-out", required=True)
    sp.add_argument("--test-share", type=float, default=0.2)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        code = {"fit": cmd_fit, "eval": cmd_eval, "split": cmd_split}[args.command](args)
    except data.DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _log(f"{args.command} took {time.perf_counter() - started:.1f} s")
    return code


if __name__ == "__main__":
    sys.exit(main())
