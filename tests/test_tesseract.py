"""Tesseract through its command-line program (ocr/tesseract.py): it reads printed text, and a
missing program or a slow one gives empty text, never an exception."""

from __future__ import annotations

import cv2
import numpy as np

from sipantau.ocr import tesseract


def _line(text: str) -> np.ndarray:
    img = np.full((80, 900), 255, np.uint8)
    cv2.putText(img, text, (20, 55), cv2.FONT_HERSHEY_SIMPLEX, 1.4, 0, 3)
    return img


def test_a_printed_line_is_read():
    got = tesseract.image_to_string(_line("HASIL PENGHITUNGAN"), ["--psm", "7"], 10.0)
    assert "HASIL" in got.upper() and "PENGHITUNGAN" in got.upper()


def test_a_missing_program_reads_nothing(monkeypatch):
    monkeypatch.setattr(tesseract, "ENV", {"PATH": "/nonexistent"})
    assert tesseract.image_to_string(_line("HASIL"), ["--psm", "7"], 10.0) == ""


def test_a_program_past_its_time_reads_nothing():
    assert tesseract.image_to_string(_line("HASIL"), ["--psm", "7"], 0.001) == ""


def test_a_failing_run_reads_nothing():
    assert tesseract.image_to_string(_line("HASIL"), ["--psm", "7"], 10.0, lang="nope") == ""
