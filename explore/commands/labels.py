"""``explore labels show|export|import``: inspect and share LLM label sets.

Labels live in the SQLite label store: ``explore train`` keeps them in
``<out>/labels.sqlite`` (``runs/default/labels.sqlite``; a sweep's in its directory) unless
``bonus.store=`` or ``$EXPLORE_LABELS_DB`` says otherwise (see :mod:`agents.llm.store`). ``export`` writes JSON Lines — one object per line with a
``type`` of ``prompt``, ``label`` or ``preference`` — and ``import`` reads them back,
keeping any label already present, so label sets can be merged and shared between
machines without paying for the same LLM call twice.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, fields

_FILTERS = ("annotator", "model", "prompt_hash")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``explore labels`` with its ``show``, ``export`` and ``import`` sub-commands."""
    parser = subparsers.add_parser(
        "labels",
        help="inspect, export and import LLM label sets (the label store)",
        description="Inspect and share the labels of LLM-feedback rewards (oni).",
    )
    actions = parser.add_subparsers(dest="action", metavar="<action>")

    def common(sub: argparse.ArgumentParser, filters: bool = True) -> None:
        sub.add_argument(
            "--db",
            default=None,
            help="label store (default: $EXPLORE_LABELS_DB or runs/labels.sqlite; `explore "
            "train` writes <out>/labels.sqlite, e.g. runs/default/labels.sqlite)",
        )
        if filters:
            sub.add_argument(
                "--annotator", default=None, help="only this annotator (openai, embedding, rules)"
            )
            sub.add_argument("--model", default=None, help="only this model")
            sub.add_argument(
                "--prompt-hash", dest="prompt_hash", default=None, help="only this prompt hash"
            )

    show = actions.add_parser("show", help="summary per annotator/model/prompt, then recent labels")
    common(show)
    show.add_argument("--limit", type=int, default=20, help="labels to list (default 20; 0: none)")
    show.add_argument(
        "--preferences", action="store_true", help="list preferences instead of labels"
    )
    show.set_defaults(func=_show)

    export = actions.add_parser(
        "export", help="write labels, preferences and prompts as JSON Lines"
    )
    common(export)
    export.add_argument("-o", "--output", default="-", help="output file (default: stdout)")
    export.set_defaults(func=_export)

    imp = actions.add_parser("import", help="merge a JSON Lines label set into the store")
    common(imp, filters=False)
    imp.add_argument(
        "path", help="JSON Lines file written by `explore labels export` (- for stdin)"
    )
    imp.set_defaults(func=_import)
    parser.set_defaults(func=lambda args: parser.print_help() or 2)


def _open(args: argparse.Namespace, must_exist: bool = True):
    import os

    from agents.llm.store import LabelStore, default_path

    path = args.db or default_path()
    if must_exist and not os.path.exists(path):
        raise FileNotFoundError(
            f"no label store at {path} (set --db or $EXPLORE_LABELS_DB; `explore train` "
            "keeps labels in <out>/labels.sqlite, e.g. runs/default/labels.sqlite)"
        )
    return LabelStore(path)


def _matches(row, args: argparse.Namespace) -> bool:
    return all(getattr(args, f, None) in (None, getattr(row, f)) for f in _FILTERS)


def _when(stamp: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp)) if stamp else "-"


def _print_table(rows: list[list[str]], header: list[str]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
    for row in [header, *rows]:
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=False)).rstrip())


def _show(args: argparse.Namespace) -> int:
    with _open(args) as store:
        summary = [
            s for s in store.summary() if all(getattr(args, f) in (None, s[f]) for f in _FILTERS)
        ]
        if not summary:
            print(f"{store.path}: no labels")
            return 0
        print(f"{store.path}")
        _print_table(
            [
                [
                    s["annotator"],
                    s["model"],
                    s["prompt_hash"],
                    s["labels"],
                    "-" if s["positive"] is None else f"{s['positive']:.0%}",
                    s["preferences"],
                    _when(s["last"]),
                ]
                for s in summary
            ],
            ["annotator", "model", "prompt_hash", "labels", "positive", "preferences", "last"],
        )
        if args.limit <= 0:
            return 0
        print()
        if args.preferences:
            prefs = [r for r in store.preference_rows() if _matches(r, args)][-args.limit :]
            _print_table(
                [
                    [f"{r.preference:.2f}", r.caption_1, r.caption_2, r.annotator, r.prompt_hash]
                    for r in prefs
                ],
                ["P(1>2)", "caption 1", "caption 2", "annotator", "prompt_hash"],
            )
        else:
            labels = [r for r in store.rows() if _matches(r, args)][-args.limit :]
            _print_table(
                [
                    [f"{r.label:.2f}", r.caption, r.annotator, r.model, r.prompt_hash]
                    for r in labels
                ],
                ["label", "caption", "annotator", "model", "prompt_hash"],
            )
    return 0


def _export(args: argparse.Namespace) -> int:
    with _open(args) as store:
        labels = [r for r in store.rows() if _matches(r, args)]
        prefs = [r for r in store.preference_rows() if _matches(r, args)]
        used = {r.prompt_hash for r in labels} | {r.prompt_hash for r in prefs}
        prompts = {h: t for h, t in store.prompts().items() if h in used}
    lines = [
        json.dumps({"type": "prompt", "prompt_hash": h, "text": t})
        for h, t in sorted(prompts.items())
    ]
    lines += [json.dumps({"type": "label", **asdict(r)}) for r in labels]
    lines += [json.dumps({"type": "preference", **asdict(r)}) for r in prefs]
    text = "".join(line + "\n" for line in lines)
    if args.output == "-":
        sys.stdout.write(text)
    else:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text)
        print(
            f"wrote {len(labels)} labels, {len(prefs)} preferences, {len(prompts)} prompts to {args.output}"
        )
    return 0


def _parse_lines(lines) -> tuple[list, dict[str, str]]:
    from agents.llm.store import LabelRow, PreferenceRow

    kinds = {"label": LabelRow, "preference": PreferenceRow}
    rows, prompts = [], {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            kind = record.pop("type")
            if kind == "prompt":
                prompts[str(record["prompt_hash"])] = str(record["text"])
                continue
            cls = kinds[kind]
            names = [f.name for f in fields(cls)]
            missing = [n for n in names if n not in record and n not in ("raw", "created")]
            if missing:
                raise KeyError(missing[0])
            row = cls(**{n: record[n] for n in names if n in record})
            value = row.label if kind == "label" else row.preference
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"value {value} outside [0, 1]")
            rows.append(row)
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise ValueError(
                f"line {number}: not a label record ({type(err).__name__}: {err})"
            ) from None
    return rows, prompts


def _import(args: argparse.Namespace) -> int:
    if args.path == "-":
        rows, prompts = _parse_lines(sys.stdin)
    else:
        with open(args.path, encoding="utf-8") as handle:
            rows, prompts = _parse_lines(handle)
    with _open(args, must_exist=False) as store:
        labels, prefs = store.import_rows(rows, prompts)
        print(
            f"{store.path}: {labels} new labels, {prefs} new preferences ({len(rows) - labels - prefs} already present)"
        )
    return 0
