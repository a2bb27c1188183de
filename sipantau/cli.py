"""`sipantau`: the one command-line entry (templates, read, samples, bench, model)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sipantau.errors import SipantauError

if TYPE_CHECKING:
    from sipantau.api.infra.context import Context


def _templates_list(args: argparse.Namespace) -> int:
    from sipantau.templates.registry import all_templates

    for t in sorted(all_templates().values(), key=lambda t: t.id):
        n_boxes = sum(len(f.boxes) for f in t.fields)
        print(f"{t.id}\t{t.locator.kind}\t{len(t.fields)} kolom, {n_boxes} kotak\t{t.title}")
    return 0


def _templates_render(args: argparse.Namespace) -> int:
    from sipantau.templates.example import DEMO_TPS, example_page, tps_place
    from sipantau.templates.registry import get_template
    from sipantau.templates.render import render, write

    template = get_template(args.id)
    pdf = args.out.suffix.lower() == ".pdf"
    dpi = args.dpi or (300 if pdf else 150)
    place = tps_place(args.tps, args.regions or DEMO_TPS) if args.tps else None
    more = [example_page(template, dpi)] if pdf and template.race is None else []
    write(render(template, dpi=dpi, tps=args.tps, place=place), args.out, dpi, args.boxes, more)
    print(f"{args.out}" + (f" {args.boxes}" if args.boxes else ""))
    return 0


def _templates_add(args: argparse.Namespace) -> int:
    from sipantau.templates.register import add_template

    print(add_template(args.id, args.reference, args.boxes, args.dir))
    return 0


def _templates_build(args: argparse.Namespace) -> int:
    from sipantau.templates.blanko import build_blanko
    from sipantau.templates.election import DEMO_ELECTION, load_election
    from sipantau.templates.kwk import build_all
    from sipantau.templates.registry import BUILTIN_DIR, save_template

    election = load_election(args.election or DEMO_ELECTION)
    for t in [build_blanko(election), *build_all(election)]:
        print(save_template(t, args.dir or BUILTIN_DIR))
    return 0


def _read(args: argparse.Namespace) -> int:
    import cv2

    from sipantau.ocr.digits import READERS
    from sipantau.ocr.pipeline import Reader
    from sipantau.templates.registry import all_templates

    cv2.setNumThreads(args.threads)
    reader = Reader(all_templates(), READERS[args.reader]())
    for path in args.photos:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            from sipantau.ocr.types import FormReading, Reason

            why = Reason("unreadable_file", f"berkas tidak dapat dibuka ({exc.strerror})")
            reading = FormReading(str(path), args.template, "rejected", [why])
        else:
            reading = reader.read(data, str(path), args.template)
        print(json.dumps(reading.export(), ensure_ascii=False), flush=True)
    return 0


def _samples_make(args: argparse.Namespace) -> int:
    from sipantau.samples.make import make_samples

    truth = make_samples(
        args.template,
        args.count,
        args.out,
        args.seed,
        args.level,
        split=args.split,
        generator=args.generator,
    )
    print(truth)
    return 0


def _bench(args: argparse.Namespace) -> int:
    from sipantau.bench.reader import main as bench_main

    return bench_main(args)


def _bench_locate(args: argparse.Namespace) -> int:
    from sipantau.bench.locate import main as locate_main

    return locate_main(args)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sipantau", description=__doc__)
    p.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = p.add_subparsers(dest="command", required=True)

    templates = sub.add_parser("templates", help="form templates")
    tp = templates.add_subparsers(dest="sub", required=True)
    tp.add_parser("list", help="list known templates").set_defaults(func=_templates_list)
    r = tp.add_parser("render", help="render a printable blank form (PNG or PDF)")
    r.add_argument("id")
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--tps", help="TPS code printed on the form and put in its QR code")
    r.add_argument(
        "--regions",
        type=Path,
        help="region CSV naming each TPS's kelurahan and kecamatan (default: the demo's)",
    )
    r.add_argument("--boxes", type=Path, help="also write the box map (JSON) here")
    r.add_argument("--dpi", type=float, help="default: 300 for PDF, 150 for PNG")
    r.set_defaults(func=_templates_render)
    a = tp.add_parser("add", help="register a form from one reference scan and a box map")
    a.add_argument("id")
    a.add_argument("--reference", type=Path, required=True)
    a.add_argument("--boxes", type=Path, required=True)
    a.add_argument("--dir", type=Path, help="where to store it (default ./data/templates)")
    a.set_defaults(func=_templates_add)
    b = tp.add_parser("build", help="rebuild the built-in templates from an election file")
    b.add_argument("--election", type=Path)
    b.add_argument("--dir", type=Path)
    b.set_defaults(func=_templates_build)

    rd = sub.add_parser("read", help="read photos of filled forms; one JSON line a photo")
    rd.add_argument("photos", nargs="+", type=Path)
    rd.add_argument("--template", help="template id (default: identify by QR, else title)")
    rd.add_argument("--reader", default="cnn", help="digit reader: cnn (default) or tesseract")
    rd.add_argument("--threads", type=int, default=1, help="OpenCV threads (default 1)")
    rd.set_defaults(func=_read)

    sp = sub.add_parser("samples", help="sample photos").add_subparsers(dest="sub", required=True)
    m = sp.add_parser("make", help="fill blank forms with handwriting and simulate phone photos")
    m.add_argument("--template", default="sipantau-blanko")
    m.add_argument("--count", type=int, default=10)
    m.add_argument("--out", type=Path, required=True)
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--level", choices=["careful", "normal", "hurried"])
    m.add_argument(
        "--generator",
        choices=["samples", "eval"],
        default="samples",
        help="samples (default; the one the digit model's crops come from) or eval (the "
        "independent evaluation generator: other ink, paper and camera; never trained on)",
    )
    m.add_argument(
        "--split",
        choices=["holdout", "calib"],
        default="holdout",
        help="handwriting: holdout (benchmark photos, default) or calib (calibration photos)",
    )
    m.set_defaults(func=_samples_make)

    bn = sub.add_parser("bench", help="benchmarks: `bench [reader]` (default) or `bench service`")
    bsub = bn.add_subparsers(dest="sub", required=True)
    from sipantau.bench.reader import add_arguments

    br = bsub.add_parser("reader", help="accuracy, silent errors and speed on fresh samples")
    add_arguments(br)
    br.set_defaults(func=_bench)
    from sipantau.bench.locate import add_arguments as locate_arguments

    bl = bsub.add_parser("locate", help="located / rejected with reason, per set and template")
    locate_arguments(bl)
    bl.set_defaults(func=_bench_locate)
    bsub.add_parser("service", help="upload burst and reading throughput (see its --help)")
    bsub.add_parser("ui", help="leadership dashboard load time, 656 forms (see its --help)")
    bsub.add_parser("stress", help="5,000 uploads under faults: kills and restarts (--help)")
    bsub.add_parser("scale", help="3,000 forms x both generators: silent errors, auto-accept")

    def where(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--data", type=Path, default=Path("data"), help="data folder (./data)")
        parser.add_argument("--database-url", help="SQLAlchemy URL (default: SQLite in --data)")

    us = sub.add_parser("users", help="accounts").add_subparsers(dest="sub", required=True)
    ua = us.add_parser("add", help="create an account (the password is asked for)")
    ua.add_argument("username")
    ua.add_argument("--role", required=True, choices=["monitor", "reviewer", "leadership", "admin"])
    ua.add_argument("--name", default="")
    ua.add_argument("--tps", default="", help="comma-separated TPS codes (monitors)")
    ua.add_argument("--password-env", help="read the password from this environment variable")
    where(ua)
    ua.set_defaults(func=_users_add)

    el = sub.add_parser("election", help="the election").add_subparsers(dest="sub", required=True)
    ei = el.add_parser("import", help="import races (YAML) and the region tree with DPT (CSV)")
    ei.add_argument("--election", type=Path, help="YAML (default: the demo election)")
    ei.add_argument("--regions", type=Path, help="CSV (default: the demo region tree)")
    where(ei)
    ei.set_defaults(func=_election_import)

    sv = sub.add_parser("serve", help="run the service: API, monitor page, reading workers")
    where(sv)
    sv.add_argument("--host", default="127.0.0.1")
    sv.add_argument("--port", type=int, default=8000)
    sv.add_argument("--workers", type=int, default=2, help="reading worker processes (2)")
    sv.add_argument("--demo", action="store_true", help="demo election, accounts and photos")
    sv.add_argument("--no-samples", action="store_true", help="with --demo: send no photos")
    sv.add_argument("--no-ui", action="store_true", help="do not start the Streamlit app")
    sv.add_argument("--ui-port", type=int, default=8501, help="review UI port (8501)")
    sv.set_defaults(func=_serve)

    ui = sub.add_parser("ui", help="run only the posko's review UI (Streamlit) against an API")
    ui.add_argument("--api", default="http://127.0.0.1:8000/api/v1", help="the API's URL")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=8501)
    ui.set_defaults(func=_ui)

    md = sub.add_parser("model", help="digit model").add_subparsers(dest="sub", required=True)
    md.add_parser(
        "train", help="train the digit model (needs the 'train' extra)", add_help=False
    )  # listed for --help; main() hands everything after it to the training script
    return p


def _serve(args: argparse.Namespace) -> int:
    from sipantau.api.infra.settings import ServiceSettings
    from sipantau.api.web.serve import serve

    settings = ServiceSettings(data_dir=args.data, database_url=args.database_url)
    ui_port = None if args.no_ui else args.ui_port
    return serve(
        settings, args.host, args.port, args.workers, args.demo, not args.no_samples, ui_port
    )


def _ui(args: argparse.Namespace) -> int:
    from sipantau.review_ui.launch import run_ui

    return run_ui(args.api, args.host, args.port)


def _context(args: argparse.Namespace) -> Context:
    from sipantau.api.infra.context import Context
    from sipantau.api.infra.db import migrate
    from sipantau.api.infra.settings import ServiceSettings

    settings = ServiceSettings(data_dir=args.data, database_url=args.database_url)
    migrate(settings.db_url)
    return Context.create(settings)


def _users_add(args: argparse.Namespace) -> int:
    import getpass
    import os

    from sipantau.api.domain.accounts import create_user
    from sipantau.api.infra.db import transaction

    if args.password_env:
        password = os.environ.get(args.password_env, "")
    else:
        password = getpass.getpass("Kata sandi: ")
        if getpass.getpass("Ulangi kata sandi: ") != password:
            print("sipantau: kata sandi tidak sama", file=sys.stderr)
            return 2
    tps = [t.strip() for t in args.tps.split(",") if t.strip()]
    with transaction(_context(args).sessions) as session:
        create_user(session, args.username.lower(), password, args.role, args.name, tps)
    print(f"pengguna {args.username} ({args.role}) dibuat")
    return 0


def _election_import(args: argparse.Namespace) -> int:
    from sipantau.api.domain.directory import import_election
    from sipantau.api.domain.election import load_demo, load_election_files
    from sipantau.api.infra.db import transaction

    if (args.election is None) != (args.regions is None):
        print("sipantau: beri --election dan --regions bersama-sama", file=sys.stderr)
        return 2
    config = load_election_files(args.election, args.regions) if args.election else load_demo()
    with transaction(_context(args).sessions) as session:
        print(json.dumps(import_election(session, config, None)))
    return 0


OWN_OPTIONS = {"service": "service", "stress": "stress", "ui": "ui", "scale": "scale"}  # -> module


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"] and argv[1:2] not in (
        ["reader"],
        ["locate"],
        *([b] for b in OWN_OPTIONS),
    ):
        argv.insert(1, "reader")  # `sipantau bench --count 300` keeps working
    if argv[:1] == ["bench"] and argv[1] in OWN_OPTIONS:  # options are the benchmark's own
        import importlib

        bench = importlib.import_module(f"sipantau.bench.{OWN_OPTIONS[argv[1]]}")
        bp = argparse.ArgumentParser(prog=f"sipantau bench {argv[1]}", description=bench.__doc__)
        bench.add_arguments(bp)
        return int(bench.run(bp.parse_args(argv[2:])) or 0)
    if argv[:2] == ["model", "train"]:  # every option after it is the training script's
        from sipantau.ocr.training.train import main as train_main

        return train_main(argv[2:])
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except SipantauError as exc:
        print(f"sipantau: {exc.message}", file=sys.stderr)
        for problem in getattr(exc, "problems", [])[:50]:
            print(f"  {problem}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as exc:
        print(f"sipantau: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
