"""Tesseract on printed text, through its own command-line program fed a PNG on stdin: no
temporary files, and none of pytesseract's imports (it loads pandas: 4 s and ~100 MB a worker)."""

from __future__ import annotations

import logging
import os
import subprocess

import cv2

from sipantau.ocr.types import GrayImage

log = logging.getLogger("sipantau.read")
ENV = {**os.environ, "OMP_THREAD_LIMIT": "1"}  # tesseract's threads only fight the workers


def image_to_string(image: GrayImage, args: list[str], timeout_s: float, lang: str = "eng") -> str:
    """The text tesseract reads on `image` (extra `args`, e.g. ["--psm", "7"]); empty when it
    fails, is missing or runs past `timeout_s` (a slow machine must not hang the reader)."""
    ok, png = cv2.imencode(".png", image)
    if not ok:
        return ""
    try:
        done = subprocess.run(
            ["tesseract", "stdin", "stdout", "-l", lang, *args],
            input=png.tobytes(),
            capture_output=True,
            timeout=timeout_s,
            env=ENV,
            check=False,
        )
    except subprocess.TimeoutExpired:
        log.warning("tesseract ran past %.1f s", timeout_s)
        return ""
    except OSError as exc:
        log.warning("tesseract cannot run: %s", exc)
        return ""
    if done.returncode != 0:
        log.warning("tesseract failed: %s", done.stderr.decode("utf-8", "replace")[-300:])
        return ""
    return done.stdout.decode("utf-8", "replace")
