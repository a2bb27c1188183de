"""`sipantau`: the one command-line entry (templates, read, samples, bench, model)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from sipantau.ocr.errors import SipantauError


def _templates_list(args: argparse.Namespace) -> int:
    from sipantau.templates.registry import all_templates

    for t in sorted(all_templates().values(), key=lambda t: t.id):
        n_boxes = sum(len(f.boxes) for f in t.fields)
        print(f"{t.id}\t{t.locator.kind}\t{len(t.fields)} kolom, {n_boxes} kotak\t{t.title}")
    return 0


def _templates_render(args: argparse.Namespace) -> int:
    from sipantau.templates.registry import get_template
    from sipantau.templates.render import render, write

    template = get_template(args.id)
    dpi = args.dpi or (300 if args.out.suffix.lower() == ".pdf" else 150)
    write(render(template, dpi=dpi, tps=args.tps), args.out, dpi, args.boxes)
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
            from sipantau.ocr.types import FormReading

            reading = FormReading(
                str(path),
                args.template,
                "rejected",
                [f"unreadable_file: berkas tidak dapat dibuka ({exc.strerror})"],
            )
        else:
            reading = reader.read(data, str(path), args.template)
        print(json.dumps(reading.export(), ensure_ascii=False), flush=True)
    return 0


def _samples_make(args: argparse.Namespace) -> int:
    from sipantau.samples.make import make_samples

    print(make_samples(args.template, args.count, args.out, args.seed, args.level))
    return 0


def _bench(args: argparse.Namespace) -> int:
    from sipantau.bench.reader import main as bench_main

    return bench_main(args)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sipantau", description=__doc__)
    p.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = p.add_subparsers(dest="command", required=True)

    tp = sub.add_parser("templates", help="form templates")
    tp = tp.add_subparsers(dest="sub", required=True)
    tp.add_parser("list", help="list known templates").set_defaults(func=_templates_list)
    r = tp.add_parser("render", help="render a printable blank form (PNG or PDF)")
    r.add_argument("id")
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--tps", help="TPS code printed on the form and put in its QR code")
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
    m.set_defaults(func=_samples_make)

    bn = sub.add_parser("bench", help="accuracy, silent errors and speed on fresh samples")
    from sipantau.bench.reader import add_arguments

    add_arguments(bn)
    bn.set_defaults(func=_bench)

    md = sub.add_parser("model", help="digit model").add_subparsers(dest="sub", required=True)
    md.add_parser(
        "train", help="train the digit model (needs the 'train' extra)", add_help=False
    )  # listed for --help; main() hands everything after it to the training script
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
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
        return 2
    except (OSError, ValueError) as exc:
        print(f"sipantau: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
