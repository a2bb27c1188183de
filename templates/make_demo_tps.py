"""Writes `election-demo-tps.csv`, the demo region tree of Kota Lubuklinggau (Kemendagri 1673).

`python -m sipantau.templates.make_demo_tps`. Kecamatan and kelurahan are real (codes and names
from Kepmendagri No 300.2.2-2138 Tahun 2025); how the TPS spread over them and their DPT are
drawn from a fixed seed, so the demo looks like the city without claiming to be KPU's data.
"""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

OUT = Path(__file__).with_name("election-demo-tps.csv")
HEADER = "kecamatan_code,kecamatan,kelurahan_code,kelurahan,tps,dpt,special,name".split(",")
SEED = 2024
REGULAR_TPS = 326
MIN_TPS, MAX_TPS = 2, 9  # per kelurahan, special TPS included
MAX_DPT = 600  # Pilkada 2024: at most 600 voters per TPS

# (kecamatan code, name, {kelurahan code suffix: name}); Kemendagri numbers the kecamatan in
# this order, and a kelurahan's code is the kecamatan's plus the four digits given here.
REGIONS: list[tuple[str, str, dict[str, str]]] = [
    (
        "167301",
        "Lubuklinggau Timur I",
        {
            "1001": "Air Kuti",
            "1002": "Majapahit",
            "1003": "Taba Jemekeh",
            "1004": "Nikan Jaya",
            "1005": "Taba Lestari",
            "1007": "Batu Urip Taba",
            "1015": "Taba Koji",
            "1016": "Watervang",
        },
    ),
    (
        "167302",
        "Lubuklinggau Barat I",
        {
            "1001": "Kayu Ara",
            "1002": "Lubuk Tanjung",
            "1003": "Tanjung Indah",
            "1004": "Bandung Ujung",
            "1008": "Bandung Kiri",
            "1009": "Sukajadi",
            "1010": "Muara Enim",
            "1015": "Watas Lubuk Durian",
            "1016": "Lubuk Aman",
            "1018": "Tanjung Aman",
            "1019": "Pelita Jaya",
        },
    ),
    (
        "167303",
        "Lubuklinggau Selatan I",
        {
            "1001": "Lubuk Kupang",
            "1003": "Rahmah",
            "1008": "Jukung",
            "1009": "Air Kati",
            "1010": "Air Teman",
            "1011": "Perumnas Rahmah",
            "1012": "Lubuk Binjai",
        },
    ),
    (
        "167304",
        "Lubuklinggau Utara I",
        {
            "1001": "Durian Rampak",
            "1002": "Tanjung Raya",
            "1003": "Sumber Agung",
            "1004": "Marga Bakti",
            "1005": "Belalau I",
            "1006": "Belalau II",
            "1007": "Taba Baru",
            "1008": "Margorejo",
            "1009": "Petanang Ulu",
            "1010": "Petanang Ilir",
        },
    ),
    (
        "167305",
        "Lubuklinggau Timur II",
        {
            "1001": "Jawa Kanan",
            "1002": "Jawa Kanan SS",
            "1003": "Wira Karya",
            "1004": "Dempo",
            "1005": "Jawa Kiri",
            "1006": "Karya Bakti",
            "1007": "Mesat Jaya",
            "1008": "Mesat Seni",
            "1009": "Cereme Taba",
        },
    ),
    (
        "167306",
        "Lubuklinggau Barat II",
        {
            "1001": "Sidorejo",
            "1002": "Ulak Lebar",
            "1003": "Tapak Lebar",
            "1004": "Bandung Kanan",
            "1005": "Keputraan",
            "1006": "Lubuklinggau Ilir",
            "1007": "Lubuklinggau Ulu",
            "1008": "Pasar Permiri",
        },
    ),
    (
        "167307",
        "Lubuklinggau Selatan II",
        {
            "1001": "Tanah Periuk",
            "1002": "Simpang Periuk",
            "1003": "Karang Ketuan",
            "1004": "Siring Agung",
            "1005": "Eka Marga",
            "1006": "Marga Mulya",
            "1007": "Marga Rahayu",
            "1008": "Taba Pingin",
            "1009": "Moneng Sepati",
        },
    ),
    (
        "167308",
        "Lubuklinggau Utara II",
        {
            "1001": "Batu Urip",
            "1002": "Ulak Surung",
            "1003": "Kenanga",
            "1004": "Pasar Satelit",
            "1005": "Senalang",
            "1006": "Megang",
            "1007": "Jogoboyo",
            "1008": "Puncak Kemuning",
            "1009": "Ponorogo",
            "1010": "Kali Serayu",
        },
    ),
]

# The city's two special TPS at the 2024 Pilkada were TPS 901 and 902 in the Lapas Kelas IIA
# Lubuklinggau (Jl. Depati Said, Kelurahan Ulak Lebar); KPU numbers special TPS from 901.
# Their DPT here is made up (the real one differed between the two races).
SPECIAL: list[tuple[str, int, int, str]] = [
    ("1673061002", 901, 246, "TPS Lokasi Khusus Lapas Kelas IIA Lubuklinggau (901)"),
    ("1673061002", 902, 128, "TPS Lokasi Khusus Lapas Kelas IIA Lubuklinggau (902)"),
]

NOTE = """\
# Demo region tree: Kota Lubuklinggau (Kemendagri 1673), Pilkada 27 November 2024.
# Kecamatan and kelurahan codes and names: real, from Kepmendagri No 300.2.2-2138 Tahun 2025.
# TPS per kelurahan and DPT per TPS: drawn by make_demo_tps.py (seed {seed}), not KPU's data.
# Special TPS 901 and 902 (Lapas Kelas IIA Lubuklinggau, Ulak Lebar) follow the 2024 setup;
# their DPT is made up. Regenerate: python -m sipantau.templates.make_demo_tps
"""


def tps_counts(rng: random.Random, kelurahan: list[str], special: dict[str, int]) -> list[int]:
    """Regular TPS per kelurahan: uneven (weighted draws), 2..9 with the special ones counted."""
    counts = [MIN_TPS] * len(kelurahan)
    weight = [rng.lognormvariate(0.0, 0.7) for _ in kelurahan]
    cap = [MAX_TPS - special.get(code, 0) for code in kelurahan]
    for _ in range(REGULAR_TPS - sum(counts)):
        open_ = [i for i, c in enumerate(counts) if c < cap[i]]
        i = rng.choices(open_, weights=[weight[j] for j in open_])[0]
        counts[i] += 1
    return counts


def regular_dpt(rng: random.Random) -> int:
    """Most TPS are filled close to the 600 limit, with a tail of smaller ones."""
    return max(250, min(MAX_DPT, round(MAX_DPT - rng.gammavariate(2.0, 40.0))))


def rows(seed: int = SEED) -> list[list[str]]:
    """Every CSV row after the header, in code order."""
    rng = random.Random(seed)
    kelurahan = [(k, kn, k + s, n) for k, kn, kel in REGIONS for s, n in kel.items()]
    special: dict[str, int] = {}
    for code, *_ in SPECIAL:
        special[code] = special.get(code, 0) + 1
    counts = tps_counts(rng, [kel for _, _, kel, _ in kelurahan], special)
    out = []
    for (kec, kec_name, kel, kel_name), n in zip(kelurahan, counts, strict=True):
        for number in range(1, n + 1):
            out.append([kec, kec_name, kel, kel_name, str(number), str(regular_dpt(rng)), "0", ""])
        for code, number, dpt, name in SPECIAL:
            if code == kel:
                out.append([kec, kec_name, kel, kel_name, str(number), str(dpt), "1", name])
    return out


def render(seed: int = SEED) -> str:
    buf = io.StringIO()
    buf.write(NOTE.format(seed=seed))
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(rows(seed))
    return buf.getvalue()


def main() -> None:
    OUT.write_text(render(), encoding="utf-8")
    data = rows()
    print(f"{OUT}: {len(data)} TPS, DPT {sum(int(r[5]) for r in data)}")


if __name__ == "__main__":
    main()
