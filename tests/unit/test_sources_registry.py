"""The data registry: locating, offline errors, verification cache, derive functions.

The downloader is always replaced: these tests never touch the network.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path

import pytest

from songpop.errors import DataNotFoundError, SchemaError
from songpop.sources import registry
from support import refuse_downloads

REAL_DOWNLOAD = registry._download  # kept before the autouse fixture replaces it


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    """No network, and the verification cache lives in tmp_path."""
    return refuse_downloads(monkeypatch, tmp_path / "cache" / "verified.json")


def test_every_entry_is_declared_completely() -> None:
    for name, ds in registry.DATASETS.items():
        assert ds.name == name
        assert ds.filename.split("/")[0] in ("charts", "tracks", "seed")
        if ds.sha256:
            assert len(ds.sha256) == 64 and int(ds.sha256, 16) >= 0
        if ds.url:
            assert ds.url.startswith("https://raw.githubusercontent.com/")
            # pinned to a full commit id, never a moving branch
            assert any(len(part) == 40 for part in ds.url.split("/"))
        else:
            assert ds.note, f"{name}: no URL and no note saying why"


def test_locate_existing_file_does_not_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "seed" / "result_75a8015.csv"
    target.parent.mkdir()
    target.write_text("a,b\n1,2\n")
    monkeypatch.setattr(registry, "content_sha256", lambda p: pytest.fail("hashed on locate"))
    assert registry.locate("seed_result_75a8015", tmp_path) == target


def test_locate_uses_the_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "charts" / "all_sample.json"
    target.parent.mkdir()
    target.write_text("[]")
    monkeypatch.setenv("SONGPOP_DATA_DIR", str(tmp_path))
    assert registry.locate("hot100_sample_json") == target


def test_offline_missing_file_names_file_folder_and_url(
    tmp_path: Path, _offline: list[str]
) -> None:
    with pytest.raises(DataNotFoundError) as info:
        registry.locate("tidytuesday_spotify_2020", tmp_path)
    message = str(info.value)
    ds = registry.DATASETS["tidytuesday_spotify_2020"]
    assert ds.filename in message
    assert str(tmp_path / "tracks") in message
    assert ds.url in message
    assert "network is unreachable" in message
    assert _offline == [ds.url]
    assert not (tmp_path / "tracks").exists()  # nothing left behind, not even a folder


def test_no_public_download_says_where_to_put_the_file(tmp_path: Path, _offline: list[str]) -> None:
    with pytest.raises(DataNotFoundError) as info:
        registry.locate("hit_predictor_dev", tmp_path)
    assert "no public download" in str(info.value)
    assert str(tmp_path / "tracks") in str(info.value)
    assert _offline == []  # nothing to download from


def test_locate_without_download(tmp_path: Path, _offline: list[str]) -> None:
    with pytest.raises(DataNotFoundError, match="all_sample.json"):
        registry.locate("hot100_sample_json", tmp_path, download=False)
    assert _offline == []


def test_unknown_dataset_lists_known_names() -> None:
    with pytest.raises(DataNotFoundError, match="hot100_weekly"):
        registry.get("nope")


def test_fetch_derives_and_rejects_a_hash_mismatch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    upstream = tmp_path / "result.csv"
    header = [*registry.SEED_MATCHED_COLUMNS, "combined_key", "Song"]
    upstream.write_text(",".join(header) + "\n" + ",".join(["1"] * len(header)) + "\n")
    monkeypatch.setattr(registry, "_download", lambda url, h, folder, fname: upstream)
    data = tmp_path / "data"
    with pytest.raises(SchemaError, match="sha256"):
        registry.fetch("spotify_1921_2020_seed_matched", data)
    # the derived file whose hash disagrees is not left behind
    assert not (data / "tracks" / "spotify_1921-2020_seed_matched.csv.gz").exists()


def test_derive_seed_matched_selects_columns_as_text(tmp_path: Path) -> None:
    upstream = tmp_path / "result.csv"
    header = ["combined_key", *reversed(registry.SEED_MATCHED_COLUMNS), "Performer"]
    values = {c: f"v_{c}" for c in header}
    values["tempo"] = "0.7979999999999999"  # float text copied verbatim, not re-formatted
    upstream.write_text(",".join(header) + "\n" + ",".join(values[c] for c in header) + "\n")
    out = tmp_path / "out.csv.gz"
    registry.derive_seed_matched(upstream, out)
    rows = list(csv.reader(io.StringIO(gzip.decompress(out.read_bytes()).decode())))
    assert rows[0] == list(registry.SEED_MATCHED_COLUMNS)
    assert rows[1] == [values[c] for c in registry.SEED_MATCHED_COLUMNS]


def _chart(date: str, *songs: str) -> dict:
    return {
        "date": date,
        "data": [
            {
                "song": s,
                "artist": "X",
                "this_week": i + 1,
                "last_week": None,
                "peak_position": i + 1,
                "weeks_on_chart": 1,
            }
            for i, s in enumerate(songs)
        ],
    }


def test_hot_stuff_instance_counts_re_entries() -> None:
    charts = [
        _chart("2000-01-15", "A", "B"),
        _chart("2000-01-01", "A", "A"),  # two versions on one chart share their instance
        _chart("2000-01-08", "B"),  # A misses this chart, re-enters on the 15th
    ]
    flat = registry.flat_rows_from_all_json(charts)
    assert [row[0] for row in flat] == ["2000-01-01"] * 2 + ["2000-01-08"] + ["2000-01-15"] * 2
    rows = registry.hot_stuff_rows_from_flat(flat)
    got = {(r[1], r[2], r[3]): r[6] for r in rows}
    assert got == {
        ("1/1/2000", "1", "A"): "1",
        ("1/1/2000", "2", "A"): "1",
        ("1/8/2000", "1", "B"): "1",
        ("1/15/2000", "1", "A"): "2",
        ("1/15/2000", "2", "B"): "1",
    }
    assert rows[0][0] == "http://www.billboard.com/charts/hot-100/2000-01-01"
    assert rows[0][5] == "AX"  # SongID = Song + Performer
    assert rows[0][7] == ""  # no previous week on a debut


def test_derive_flat_and_sample_from_all_json(tmp_path: Path) -> None:
    charts = [_chart("1990-01-06", "Mañana, Again"), _chart("1958-08-04", "Poor Little Fool")]
    upstream = tmp_path / "all.json"
    upstream.write_text(json.dumps(charts), encoding="utf-8")
    flat = tmp_path / "flat.csv.gz"
    registry.derive_hot100_flat(upstream, flat)
    text = gzip.decompress(flat.read_bytes()).decode("utf-8")
    assert text.splitlines() == [
        ",".join(registry.FLAT_COLUMNS),
        "1958-08-04,1,Poor Little Fool,X,,1,1",
        '1990-01-06,1,"Mañana, Again",X,,1,1',
    ]
    sample = tmp_path / "all_sample.json"
    registry.derive_all_sample(upstream, sample)
    assert [c["date"] for c in json.loads(sample.read_text(encoding="utf-8"))] == [
        "1958-08-04",
        "1990-01-06",
    ]


def test_verify_caches_by_size_and_mtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "seed" / "extracted_features_to_predict.csv"
    target.parent.mkdir()
    target.write_text("a,b\n1,2\n")
    first = registry.verify("seed_features_to_predict", tmp_path)
    assert not first.cached and first.rows == 1 and not first.ok  # not the registry's bytes
    second = registry.verify("seed_features_to_predict", tmp_path)
    assert second.cached and second.sha256 == first.sha256
    target.write_text("a,b\n1,2\n3,4\n")
    third = registry.verify("seed_features_to_predict", tmp_path)
    assert not third.cached and third.rows == 2
    with pytest.raises(SchemaError, match="not the registry's seed_features_to_predict"):
        registry.locate("seed_features_to_predict", tmp_path, check=True)


def test_content_hash_is_of_the_uncompressed_bytes(tmp_path: Path) -> None:
    plain = tmp_path / "a.csv"
    plain.write_bytes(b"x,y\n1,2\n")
    packed = tmp_path / "a.csv.gz"
    packed.write_bytes(gzip.compress(b"x,y\n1,2\n"))
    assert registry.content_sha256(plain) == registry.content_sha256(packed)


def test_fetch_all_reports_each_outcome_without_raising(tmp_path: Path) -> None:
    reports = registry.fetch_all(["hit_predictor_dev", "seed_result_75a8015"], tmp_path)
    assert [(r.name, r.status) for r in reports] == [
        ("hit_predictor_dev", "missing"),
        ("seed_result_75a8015", "missing"),
    ]
    assert "raw.githubusercontent.com" in reports[1].message


def test_datasets_derived_from_one_download_share_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[tuple[str, str]] = []

    def record(url: str, known_hash: str | None, folder: Path, fname: str) -> Path:
        asked.append((url, fname))
        raise ConnectionError("offline (test)")

    monkeypatch.setattr(registry, "_download", record)
    for name in ("hot100_weekly", "hot_stuff_reconstructed", "hot100_sample_json"):
        with pytest.raises(DataNotFoundError):
            registry.fetch(name, tmp_path)
    assert len({fname for _, fname in asked}) == 1
    assert {url for url, _ in asked} == {registry.ALL_JSON_URL}


def test_download_goes_through_pooch_with_the_known_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pooch

    seen: dict = {}

    def fake_retrieve(url, known_hash, fname, path, progressbar):  # noqa: ANN001
        seen.update(url=url, known_hash=known_hash, fname=fname, path=Path(path))
        target = Path(path) / fname
        target.write_text("a,b\n1,2\n")
        return str(target)

    monkeypatch.setattr(pooch, "retrieve", fake_retrieve)  # pooch stays offline
    monkeypatch.setattr(registry, "_download", REAL_DOWNLOAD)
    ds = registry.DATASETS["seed_result_75a8015"]
    with pytest.raises(SchemaError, match="sha256"):  # the fake bytes are not the real file
        registry.fetch(ds, tmp_path)
    assert seen == {
        "url": ds.url,
        "known_hash": f"sha256:{ds.upstream_sha256}",
        "fname": "result_75a8015.csv",
        "path": tmp_path / "seed",
    }
    assert not (tmp_path / ds.filename).exists()


def test_count_rows_counts_records_not_lines(tmp_path: Path) -> None:
    text = 'song,n\n1999,1\n"Hello,\nagain",2\nx,3\n'  # one title holds a line break
    path = tmp_path / "t.csv.gz"
    path.write_bytes(gzip.compress(text.encode()))
    assert registry.count_rows(path) == 3
    charts = tmp_path / "all.json"
    charts.write_text(json.dumps([_chart("2000-01-01", "A", "B"), _chart("2000-01-08", "C")]))
    assert registry.count_rows(charts) == 3


def test_two_builds_wanting_one_missing_file_download_it_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two processes building at once: the second locate waits for the first's download and
    # finds the file instead of fetching it again.
    import threading
    import time

    monkeypatch.setenv("SONGPOP_CACHE_DIR", str(tmp_path / "cache"))
    fetched: list[str] = []

    def slow_fetch(ds: registry.Dataset, folder: Path) -> Path:
        fetched.append(ds.name)
        time.sleep(0.3)  # long enough for the other thread to reach the lock
        target = ds.path(folder)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("x\n")
        return target

    monkeypatch.setattr(registry, "fetch", slow_fetch)
    data = tmp_path / "data"
    found: list[Path] = []
    threads = [
        threading.Thread(target=lambda: found.append(registry.locate("hot100_weekly", data)))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert fetched == ["hot100_weekly"]
    assert found == [registry.DATASETS["hot100_weekly"].path(data)] * 2

    # two files derived from one download (all.json) are fetched one after the other, so the
    # download itself happens once (the second fetch finds it in .upstream/)
    spans: list[tuple[float, float]] = []

    def timed_fetch(ds: registry.Dataset, folder: Path) -> Path:
        start = time.perf_counter()
        path = slow_fetch(ds, folder)
        spans.append((start, time.perf_counter()))
        return path

    monkeypatch.setattr(registry, "fetch", timed_fetch)
    names = ("hot100_sample_json", "hot_stuff_reconstructed")
    assert all(registry.DATASETS[n].derive for n in names)
    assert len({registry.DATASETS[n].url for n in names}) == 1
    threads = [threading.Thread(target=registry.locate, args=(n, data)) for n in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    (a_start, a_end), (b_start, b_end) = sorted(spans)
    assert a_end <= b_start  # never at the same time
