"""``tidewatch check rules FILE...`` and ``tidewatch test rules FILE...``, as promtool's.

``check rules`` is added as a ``rules`` choice next to ``check config``; it is
registered from here so the rules part owns its command line. It also checks Loki
ruler files: a file that is not PromQL but parses as LogQL is reported as LogQL, and
``--logql`` (or ``--promql``) forces the language.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tidewatch.rules.logrules import parse_rule_file_detect
from tidewatch.rules.rulefile import LOGQL, PROMQL, RuleFileError, duplicate_rules
from tidewatch.rules.unittest import RunOptions, run_unit_tests

LINT_OPTIONS = ("all", "duplicate-rules", "none")
LINT_EXIT_CODE = 3


def register(sub: Any) -> None:
    p = sub.add_parser("test", help="run unit tests (promtool test rules)")
    what = p.add_subparsers(dest="what", metavar="WHAT", required=True)
    t = what.add_parser("rules", help="unit tests for rules, in promtool's file format")
    t.add_argument("files", nargs="+", metavar="TEST-FILE")
    t.add_argument(
        "--run",
        action="append",
        default=None,
        metavar="REGEX",
        help="only test groups whose name matches; repeatable",
    )
    t.add_argument("--ignore-unknown-fields", action="store_true")
    t.add_argument("--debug", action="store_true")
    t.set_defaults(func=test_rules)
    _register_check(sub)


def _register_check(sub: Any) -> None:
    """Add ``check rules`` under the existing ``check`` command."""
    check = sub.choices.get("check")
    if check is None:
        check = sub.add_parser("check", help="validate configuration files")
        check.add_subparsers(dest="what", metavar="WHAT", required=True)
    what = next(a for a in check._actions if isinstance(a, argparse._SubParsersAction))
    c = what.add_parser("rules", help="validate rule files (promtool check rules)")
    c.add_argument("files", nargs="+", metavar="RULE-FILE")
    c.add_argument("--lint", default="duplicate-rules", choices=LINT_OPTIONS)
    c.add_argument("--lint-fatal", action="store_true")
    c.add_argument("--ignore-unknown-fields", action="store_true")
    lang = c.add_mutually_exclusive_group()
    lang.add_argument(
        "--logql",
        dest="language",
        action="store_const",
        const=LOGQL,
        help="the files are Loki ruler files (LogQL expressions)",
    )
    lang.add_argument(
        "--promql", dest="language", action="store_const", const=PROMQL, help="PromQL only"
    )
    c.set_defaults(func=check_rules, language="")


def test_rules(args: argparse.Namespace) -> int:
    options = RunOptions(
        run=args.run, ignore_unknown_fields=args.ignore_unknown_fields, debug=args.debug
    )
    return run_unit_tests(list(args.files), options)


def check_rules(args: argparse.Namespace) -> int:
    failed = False
    lint_failed = False
    forced = getattr(args, "language", "")  # "" = detect per file
    for f in args.files:
        print(f"Checking {f}")
        try:
            groups, language = parse_rule_file_detect(
                f, ignore_unknown_fields=args.ignore_unknown_fields, language=forced
            )
        except RuleFileError as exc:
            print("  FAILED:", file=sys.stderr)
            for e in exc.errors:
                print(e, file=sys.stderr)
            print()
            failed = True
            continue
        dups = duplicate_rules(groups) if args.lint in ("all", "duplicate-rules") else []
        if dups:
            # As promtool: a lint finding replaces the success line.
            lint_failed = True
            print("  FAILED:", file=sys.stderr)
            print(f"lint error {len(dups)} duplicate rule(s) found.", file=sys.stderr)
            for name, labels in dups:
                print(f"Metric: {name}\nLabel(s):", file=sys.stderr)
                for k, v in sorted(labels.items()):
                    print(f"\t{k}: {v}", file=sys.stderr)
            print("Might cause inconsistency while recording expressions", file=sys.stderr)
        else:
            found = f"{sum(len(g.rules) for g in groups)} rules found"
            # Only a detected language is named, so promtool-style output stays as it was.
            detected = language == LOGQL and not forced
            print(f"  SUCCESS: {found}" + (" (LogQL)" if detected else ""))
        print()
    if failed:
        return 1
    if lint_failed and args.lint_fatal:
        return LINT_EXIT_CODE
    return 0
