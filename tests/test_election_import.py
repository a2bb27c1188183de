"""Election files: the demo region tree, and every malformed file reported at once, by line."""

from __future__ import annotations

from pathlib import Path

import pytest

from sipantau.api.domain import election as el
from sipantau.api.domain.election import (
    DEMO_REGIONS,
    ElectionConfig,
    ElectionError,
    load_demo,
    load_election_files,
    load_regions,
)
from sipantau.ocr.errors import SipantauError
from sipantau.samples.make import tps_codes
from sipantau.templates.election import DEMO_ELECTION

HEADER = "kecamatan_code,kecamatan,kelurahan_code,kelurahan,tps,dpt,special,name"
GOOD = [
    "167301,Lubuklinggau Timur I,1673011001,Air Kuti,1,512,0,",
    "167301,Lubuklinggau Timur I,1673011001,Air Kuti,2,498,0,",
    "167301,Lubuklinggau Timur I,1673011002,Majapahit,1,377,0,",
    "167306,Lubuklinggau Barat II,1673061002,Ulak Lebar,901,246,1,TPS Lokasi Khusus Lapas",
]
YAML = DEMO_ELECTION.read_text(encoding="utf-8")


def csv_text(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def problems(source: el.Source) -> list[tuple[int | None, str]]:
    with pytest.raises(ElectionError) as caught:
        load_regions(source)
    assert caught.value.code == "invalid_election"
    return [(p.line, p.message) for p in caught.value.problems]


def test_demo_election_is_the_city() -> None:
    config = load_demo()
    regions = config.regions
    assert len(regions.kecamatan) == 8 and len(regions.kelurahan) == 72
    assert len(regions.tps) == 328
    assert sum(t.special for t in regions.tps) == 2
    assert all(t.dpt <= 600 for t in regions.tps)
    assert 150_000 <= sum(t.dpt for t in regions.tps) <= 190_000
    assert {k.name for k in regions.kecamatan} == {
        f"Lubuklinggau {side} {n}"
        for side in ("Barat", "Selatan", "Timur", "Utara")
        for n in ("I", "II")
    }
    for t in regions.tps:
        assert t.code == ElectionConfig.tps_code(t.kelurahan_code, t.number)
        assert t.kelurahan_code.startswith(t.kecamatan_code) and t.code.startswith("1673")
    per_kelurahan = [len(regions.tps_in(k.code)) for k in regions.kelurahan]
    assert min(per_kelurahan) >= 2 and max(per_kelurahan) <= 9
    assert len(set(per_kelurahan)) > 3  # spread unevenly
    assert all("Lokasi Khusus" in t.name for t in regions.tps if t.special)
    assert config.summary() == {
        "races": 2,
        "kecamatan": 8,
        "kelurahan": 72,
        "tps": 328,
        "tps_special": 2,
        "dpt": sum(t.dpt for t in regions.tps),
    }
    assert regions.tps_by_code["1673011001-001"].name == "TPS 001"
    assert regions.kelurahan_by_code["1673011001"].kecamatan_code == "167301"


def test_demo_csv_is_what_its_generator_writes() -> None:
    from sipantau.templates import make_demo_tps

    assert DEMO_REGIONS.read_text(encoding="utf-8") == make_demo_tps.render()


def test_good_file_from_text_bytes_bom_and_path(tmp_path: Path) -> None:
    text = csv_text(*GOOD)
    path = tmp_path / "wilayah.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    for source in (text, text.encode(), "\ufeff" + text, path):
        regions = load_regions(source)
        assert [t.code for t in regions.tps] == [
            "1673011001-001",
            "1673011001-002",
            "1673011002-001",
            "1673061002-901",
        ]
    assert regions.tps[3].special and regions.tps[3].name == "TPS Lokasi Khusus Lapas"
    assert [k.code for k in regions.kecamatan] == ["167301", "167306"]


def test_quoted_name_with_a_comma_and_comment_lines() -> None:
    text = "# komentar\n\n" + csv_text(
        '167301,Lubuklinggau Timur I,1673011001,Air Kuti,3,90,1,"RS, Lokasi Khusus"'
    )
    assert load_regions(text).tps[0].name == "RS, Lokasi Khusus"


def test_a_quoted_newline_is_one_cell_and_later_lines_keep_their_numbers() -> None:
    text = csv_text(
        '167301,Lubuklinggau Timur I,1673011001,Air Kuti,3,90,1,"RS Siti Aisyah\nLokasi Khusus"',
        "167301,Lubuklinggau Timur I,1673011001,Air Kuti,x,90,0,",
    )
    [(line, message)] = problems(text)
    assert line == 4 and "nomor TPS 'x'" in message  # header 1, the quoted row 2-3
    text = csv_text('167301,Lubuklinggau Timur I,1673011001,Air Kuti,3,90,1,"RS\r\nKhusus"')
    assert load_regions(text).tps[0].name == "RS\r\nKhusus"


def test_wrong_header_names_missing_and_extra_columns() -> None:
    text = "# wilayah demo\n" + csv_text(
        *GOOD, header="kecamatan_code,kecamatan,kelurahan_code,kelurahan,tps,pemilih,special,name"
    )
    [(line, message)] = problems(text)
    assert line == 2
    assert "kolom tidak ada: dpt" in message and "kolom tidak dikenal: pemilih" in message
    swapped = HEADER.replace("tps,dpt", "dpt,tps")
    assert "urutan kolom berbeda" in problems(csv_text(*GOOD, header=swapped))[0][1]


def test_every_row_problem_is_reported_with_its_line() -> None:
    text = csv_text(
        GOOD[0],  # line 2
        "167301,Lubuklinggau Timur I,1673021001,Kayu Ara,1,500,0,",  # 3: wrong kecamatan
        "167301,Lubuklinggau Timur I,1673011001,Air Kuti,4,1001,2,",  # 4: DPT and special
        "16730,Lubuklinggau Timur I,1673011001,Air Kuti,x,500,0,",  # 5: codes and number
        "167301,Lubuklinggau Timur I,1673011001,Air Kuti,5,500,0",  # 6: a column short
        "167301,Lubuklinggau Timur I,1673011001,Air Kuti,6,500,0,,",  # 7: a column too many
        "167301,Lubuklinggau Timur I,1673011001,Air Kuti,1,300,0,",  # 8: TPS 001 again
        "167301,Lubuklinggau Timur I,1673011001,Air Kuti,7,-3,0,",  # 9: negative DPT
        "167301,Lubuklinggau Timur I,16730110,Air Kuti,8,12.5,0,",  # 10: short code, DPT
        "167901,Lubuklinggau Timur IX,1679011001,Air Kuti,1,500,0,",  # 11: another city
        "167301,Lubuklinggau Timur I,1673011001,Air Kuti,0,500,0,",  # 12: TPS number 0
    )
    found = problems(text)
    assert found == [
        (3, "kode kelurahan 1673021001 tidak diawali kode kecamatan 167301"),
        (4, "DPT '1001' harus bilangan bulat 0-1000"),
        (4, "kolom special '2' harus 0 (TPS biasa) atau 1 (TPS khusus)"),
        (5, "kode kecamatan '16730' harus 6 angka, mis. 167301"),
        (5, "nomor TPS 'x' harus bilangan bulat 1-999"),
        (6, "ada 7 kolom, seharusnya 8"),
        (7, "ada 9 kolom, seharusnya 8; nama yang memuat koma harus diberi tanda kutip"),
        (8, "TPS 1673011001-001 sudah ada di baris 2"),
        (9, "DPT '-3' harus bilangan bulat 0-1000"),
        (10, "kode kelurahan '16730110' harus 10 angka, mis. 1673011001"),
        (10, "DPT '12.5' harus bilangan bulat 0-1000"),
        (11, "kode kecamatan 167901 tidak diawali kode kota 1673 (baris 2)"),
        (12, "nomor TPS '0' harus bilangan bulat 1-999"),
    ]


def test_one_name_per_code_and_one_code_per_name() -> None:
    text = csv_text(
        GOOD[0],
        "167301,Lubuklinggau Timur 1,1673011001,Air Kuti,2,500,0,",  # 3: kecamatan renamed
        "167301,Lubuklinggau Timur I,1673011001,Air Kuning,3,500,0,",  # 4: kelurahan renamed
        "167302,Lubuklinggau Timur I,1673021001,Kayu Ara,1,500,0,",  # 5: name of 167301
        "167301,Lubuklinggau Timur I,1673011009,Air Kuti,1,500,0,",  # 6: name of 1673011001
        "167302,Lubuklinggau Barat I,1673021002,Air Kuti,1,500,0,",  # 7: fine elsewhere
        "167301,Lubuklinggau Timur I,1673011003,,1,500,0,",  # 8: no name
    )
    found = problems(text)
    assert [line for line, _ in found] == [3, 4, 5, 6, 8]
    assert found[0][1] == (
        "kecamatan 167301 bernama 'Lubuklinggau Timur 1', padahal di baris 2 'Lubuklinggau Timur I'"
    )
    assert "'Air Kuning', padahal di baris 2 'Air Kuti'" in found[1][1]
    assert found[2][1] == (
        "nama kecamatan 'Lubuklinggau Timur I' sudah dipakai kode 167301 (baris 2)"
    )
    assert "sudah dipakai kode 1673011001 (baris 2)" in found[3][1]
    assert "kosong" in found[4][1]


def test_dpt_bounds_are_inclusive() -> None:
    text = csv_text(
        "167301,Lubuklinggau Timur I,1673011001,Air Kuti,1,0,1,",
        "167301,Lubuklinggau Timur I,1673011001,Air Kuti,2,1000,0,",
    )
    assert [t.dpt for t in load_regions(text).tps] == [0, 1000]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (b"", "berkas kosong"),
        ("  \n\n", "berkas kosong"),
        ("# hanya komentar\n", "berkas tidak berisi kepala kolom dan TPS"),
        (HEADER + "\n", "tidak ada satu pun TPS di bawah kepala kolom"),
        (b"x" * (el.MAX_BYTES + 1), "berkas lebih dari 5 MB"),
    ],
)
def test_empty_or_too_large(source: el.Source, message: str) -> None:
    assert problems(source) == [(None, message)]


def test_not_utf8_names_the_line() -> None:
    data = csv_text(*GOOD[:2], "167301,Lubuklinggau Timur I,1673011002,Majapahit,1,3,0,").encode()
    data = data.replace(b"Majapahit", "Majapahit é".encode("latin-1"))
    [(line, message)] = problems(data)
    assert line == 4 and "UTF-8" in message


def test_too_many_rows_stops_there(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(el, "MAX_ROWS", 3)
    rows = [f"167301,Lubuklinggau Timur I,1673011001,Air Kuti,{n},500,0," for n in range(1, 7)]
    assert problems(csv_text(*rows)) == [(5, "lebih dari 3 baris TPS")]


def test_many_problems_are_capped_and_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(el, "MAX_PROBLEMS", 3)
    rows = [f"167301,Lubuklinggau Timur I,1673011001,Air Kuti,{n},9999,0," for n in range(1, 6)]
    with pytest.raises(ElectionError) as caught:
        load_regions(csv_text(*rows))
    assert "5 masalah" in caught.value.message
    assert [p.line for p in caught.value.problems] == [2, 3, 4, None]
    assert caught.value.problems[-1].message == "dan 2 masalah lain"


def test_missing_file(tmp_path: Path) -> None:
    [(line, message)] = problems(tmp_path / "tidak-ada.csv")
    assert line is None and "tidak ditemukan" in message


def test_both_files_reported_together() -> None:
    bad_yaml = YAML.replace('date: "2024-11-27"', "date: 2024-11-27").replace(
        "id: walikota", "id: Walikota"
    )
    bad_csv = csv_text(GOOD[0], GOOD[0])
    with pytest.raises(ElectionError) as caught:
        load_election_files(bad_yaml.encode(), bad_csv)
    err = caught.value
    assert isinstance(err, SipantauError) and str(err).startswith("invalid_election: ")
    lines = YAML.splitlines()
    date_line = 1 + next(i for i, t in enumerate(lines) if t.startswith("date:"))
    id_line = 1 + next(i for i, t in enumerate(lines) if "id: walikota" in t)
    assert [(p.file, p.line) for p in err.problems] == [
        ("election.yaml", date_line),
        ("election.yaml", id_line),
        ("regions.csv", 3),
    ]
    assert "tanda kutip" in err.problems[0].message
    assert err.problems[1].message.startswith("races[1].id: ")
    assert str(err.problems[2]) == "regions.csv baris 3: TPS 1673011001-001 sudah ada di baris 2"


def test_yaml_problems() -> None:
    def yaml_problems(text: str) -> list[tuple[int | None, str]]:
        with pytest.raises(ElectionError) as caught:
            load_election_files(text, csv_text(*GOOD))
        return [(p.line, p.message) for p in caught.value.problems]

    [(line, message)] = yaml_problems("name: a\nraces: [1, 2\nregion: b\n")
    assert line is not None and message.startswith("YAML tidak bisa dibaca")
    assert yaml_problems("- a\n- b\n")[0][1].startswith("isi berkas harus berupa pemetaan")
    assert "alias" in yaml_problems("a: &x [1]\nb: *x\n")[0][1]
    twice = YAML.replace("id: walikota", "id: gubernur")
    [(line, message)] = yaml_problems(twice)
    assert message == "races[1].id: 'gubernur' dipakai dua kali"
    missing = yaml_problems("name: a\nregion: b\nraces:\n  - id: x\n    extra: 1\n")
    assert (None, "date: wajib diisi") not in missing
    assert (1, "date: wajib diisi") in missing
    assert (5, "races[0].extra: kunci ini tidak dikenal") in missing
    assert (4, "races[0].paslon: wajib diisi") in missing


def test_sample_photos_belong_to_demo_tps() -> None:
    demo = {t.code for t in load_demo().regions.tps}
    codes = tps_codes(2024, 328)
    assert set(codes) == demo
    assert tps_codes(2024, 10) == codes[:10] and tps_codes(2025, 10) != codes[:10]
    assert tps_codes(2024, 700)[328:656] == codes  # past 328 the same order repeats
