"""Loaders for raw data: Amazon 2014 review files (+ downloader), CSV/Parquet logs, RecBole atomic files.

Hand-written fixtures live as plain text in tests/data/; the gzip files the Amazon loader reads are made
from them in tmp_path. MovieLens-100K in the shared data folder is the real-data check.
"""

from __future__ import annotations

import gzip
import shutil
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genrec.data import load_dataset
from genrec.data.filtering import kcore_mask, time_order
from genrec.data.loaders import amazon_raw
from genrec.data.loaders.download import download
from genrec.errors import GenrecError
from genrec.paths import data_dir

DATA = Path(__file__).parent / "data"
MOVIELENS = data_dir() / "movielens-100k"


def gzip_copy(source: Path, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(source, "rb") as f, gzip.open(dest, "wb") as out:
        shutil.copyfileobj(f, out)
    return dest


@pytest.fixture
def amazon_folder(tmp_path) -> Path:
    folder = tmp_path / "raw"
    gzip_copy(DATA / "amazon" / "reviews_Tiny_5.json", folder / "reviews_Tiny_5.json.gz")
    gzip_copy(DATA / "amazon" / "meta_Tiny.json", folder / "meta_Tiny.json.gz")
    return folder


def rows(ds) -> dict[str, list[str]]:
    """User id -> original item ids in sequence order."""
    return {str(u): [str(ds.item_ids[i]) for i in ds.sequences[r]] for r, u in enumerate(ds.user_ids)}


# ---- shared filtering -------------------------------------------------------------------------------

def test_kcore_repeats_until_nothing_changes():
    # user 2 has 2 rows; dropping it leaves item 2 with one row, which then drops user 1 to 1 row ...
    users = np.array([0, 0, 0, 1, 1, 2, 2])
    items = np.array([0, 1, 2, 0, 2, 0, 1])
    assert kcore_mask(users, items, 2).tolist() == [True, True, True, True, True, True, True]
    assert kcore_mask(users, items, 3).tolist() == [False] * 7
    assert kcore_mask(users, items, 0).all() and kcore_mask(users, items, 1).all()
    users = np.array([0, 0, 1, 1, 2])
    items = np.array([0, 1, 0, 1, 0])
    assert kcore_mask(users, items, 2).tolist() == [True, True, True, True, False]


def test_time_order_groups_users_and_keeps_file_order_on_ties():
    users = np.array([1, 0, 1, 0, 1])
    times = np.array([5.0, 3.0, 5.0, 1.0, 2.0])
    assert time_order(users, times).tolist() == [3, 1, 4, 0, 2]
    assert time_order(users, None).tolist() == [1, 3, 0, 2, 4]


# ---- raw Amazon 2014 --------------------------------------------------------------------------------

def test_amazon_raw_five_core_time_order_and_item_text(amazon_folder):
    ds = load_dataset(str(amazon_folder))
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (5, 5, 25)  # A6 and B006 fall below 5
    assert ds.name == str(amazon_folder)
    assert rows(ds) == {
        "A1": ["B001", "B002", "B005", "B003", "B004"],  # B002 and B005 share a time: file order
        "A2": ["B001", "B002", "B003", "B004", "B005"],
        "A3": ["B005", "B004", "B003", "B002", "B001"],
        "A4": ["B001", "B002", "B003", "B004", "B005"],  # all at one time
        "A5": ["B001", "B002", "B003", "B004", "B005"],
    }
    assert ds.timestamps[0].tolist() == [100, 200, 200, 300, 400]
    records = dict(zip(ds.item_ids, ds.item_records))
    assert records["B001"] == {"title": "Nail Polish &amp; Top Coat", "brand": "OPI",
                               "categories": [["Beauty", "Makeup", "Nails"]],
                               "description": "A 'glossy' finish.", "price": 9.99}
    assert records["B002"] == {"title": "Eye Cream",
                               "categories": [["Beauty", "Skin Care"], ["Beauty", "Eyes"]]}
    assert records["B003"] == {"title": "Shampoo", "price": 4.5}
    assert records["B004"] == {"categories": [["Beauty"]], "title": "Conditioner \u00e9t\u00e9"}
    assert records["B005"] == {}  # no metadata line


def test_amazon_raw_kcore_is_configurable(amazon_folder):
    ds = load_dataset(str(amazon_folder / "reviews_Tiny_5.json.gz"), kcore=0)
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (6, 6, 27)
    assert rows(ds)["A6"] == ["B006", "B001"]
    assert ds.item_records[list(ds.item_ids).index("B006")] == {"title": "Rarely bought"}


def test_amazon_raw_by_category_name_finds_files_in_the_data_folder(amazon_folder, tmp_path, monkeypatch):
    monkeypatch.setenv("GENREC_CACHE", str(tmp_path / "cache"))
    shutil.copytree(amazon_folder, tmp_path / "data" / amazon_raw.RAW_FOLDER)
    monkeypatch.setattr(amazon_raw, "URL", "http://127.0.0.1:9/")  # would fail if it tried to download
    ds = load_dataset("amazon-raw:Tiny", data_dir=tmp_path / "data")
    assert ds.name == "amazon-raw:Tiny" and ds.n_interactions == 25


def test_amazon_raw_downloads_missing_files(amazon_folder, tmp_path, monkeypatch):
    monkeypatch.setenv("GENREC_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(amazon_raw, "URL", amazon_folder.as_uri() + "/")
    ds = load_dataset("amazon-raw:Tiny", data_dir=tmp_path / "data")
    assert ds.n_interactions == 25
    fetched = tmp_path / "data" / amazon_raw.RAW_FOLDER
    assert sorted(p.name for p in fetched.iterdir()) == ["meta_Tiny.json.gz", "reviews_Tiny_5.json.gz"]


def test_amazon_raw_downloads_into_the_cache_unless_a_data_dir_is_chosen(amazon_folder, tmp_path,
                                                                         monkeypatch):
    monkeypatch.delenv("GENREC_DATA", raising=False)
    monkeypatch.setenv("GENREC_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(amazon_raw, "URL", amazon_folder.as_uri() + "/")
    default = data_dir() / amazon_raw.RAW_FOLDER  # ../shared/data when it exists: maybe read-only, shared
    existed = default.exists()
    reviews = amazon_raw.fetch_category("Tiny", progress=False)
    assert reviews == tmp_path / "cache" / "data" / amazon_raw.RAW_FOLDER / "reviews_Tiny_5.json.gz"
    assert reviews.is_file() and (default == reviews.parent or default.exists() == existed)


def test_category_aliases():
    assert amazon_raw.category_name("beauty") == "Beauty"
    assert amazon_raw.category_name("Toys and Games") == "Toys_and_Games"
    assert amazon_raw.file_names("Sports_and_Outdoors") == ("reviews_Sports_and_Outdoors_5.json.gz",
                                                            "meta_Sports_and_Outdoors.json.gz")


# ---- downloader -------------------------------------------------------------------------------------

def test_download_writes_the_file_and_no_part(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(b"x" * 3_000_000)
    dest = download(source.as_uri(), tmp_path / "out" / "file.bin", progress=False)
    assert dest.read_bytes() == source.read_bytes()
    assert sorted(p.name for p in dest.parent.iterdir()) == ["file.bin"]


def test_download_failure_is_one_clear_error_and_leaves_nothing(tmp_path):
    dest = tmp_path / "out" / "reviews_Beauty_5.json.gz"
    expected = (r"could not download http://127\.0\.0\.1:9/reviews_Beauty_5\.json\.gz: "
                r".*copy reviews_Beauty_5\.json\.gz into .*out by hand")
    with pytest.raises(GenrecError, match=expected):
        download("http://127.0.0.1:9/reviews_Beauty_5.json.gz", dest, progress=False, timeout=5)
    assert not dest.parent.exists()  # not even the folder is made before the server answers


def test_download_cut_short_removes_the_part_file(tmp_path, monkeypatch):
    class Response:
        headers = {"Content-Length": "100"}

        def __init__(self):
            self.sent = False

        def read(self, n):
            if self.sent:
                raise ConnectionResetError("connection reset by peer")
            self.sent = True
            return b"x" * 40

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: Response())
    dest = tmp_path / "file.gz"
    with pytest.raises(GenrecError, match="connection reset by peer"):
        download("http://example.invalid/file.gz", dest, progress=False)
    assert list(tmp_path.iterdir()) == []


# ---- CSV / Parquet interaction logs -----------------------------------------------------------------

LOG_OPTIONS = dict(user_col="uid", item_col="sku", time_col="ts")


def test_csv_log_with_item_table():
    ds = load_dataset(str(DATA / "log.csv"), items=str(DATA / "items.csv"), **LOG_OPTIONS)
    assert rows(ds) == {"u1": ["x1", "x2", "x3"], "u2": ["x2", "x1", "x3"], "u3": ["x1"]}
    assert ds.timestamps.to_lists() == [[10, 20, 30], [5, 5, 7], [1]]
    assert ds.name == str(DATA / "log.csv") and ds.n_items == 3  # x9 is never interacted with
    records = dict(zip(ds.item_ids, ds.item_records))
    assert records == {"x1": {"title": "Red mug, large", "brand": "Acme", "price": "12.5"},
                       "x2": {"title": "Blue mug", "price": "8"},
                       "x3": {"title": "Green mug", "brand": "Acme"}}
    assert ds.title(0) == "Red mug, large"


def test_csv_log_kcore_and_file_order():
    ds = load_dataset(str(DATA / "log.csv"), kcore=2, **LOG_OPTIONS)
    assert rows(ds) == {"u1": ["x1", "x2", "x3"], "u2": ["x2", "x1", "x3"]}
    assert ds.item_records == [{}, {}, {}]
    unordered = load_dataset(str(DATA / "log.csv"), user_col="uid", item_col="sku", time_col="")
    assert rows(unordered) == {"u1": ["x3", "x1", "x2"], "u2": ["x2", "x1", "x3"], "u3": ["x1"]}
    assert unordered.timestamps is None


def test_parquet_log_with_typed_columns(tmp_path):
    log = pd.DataFrame({"user_id": [7, 7, 8, 7], "item_id": [3, 1, 1, 2],
                        "timestamp": pd.to_datetime([30, 10, 5, 20], unit="s")})
    log.to_parquet(tmp_path / "log.parquet")
    items = pd.DataFrame({"item_id": [1, 2, 3], "title": ["one", "two", None], "price": [1.5, None, 3.0]})
    items.to_parquet(tmp_path / "items.parquet")
    ds = load_dataset(str(tmp_path / "log.parquet"), items=str(tmp_path / "items.parquet"))
    assert rows(ds) == {"7": ["1", "2", "3"], "8": ["1"]}
    assert ds.timestamps.to_lists() == [[10, 20, 30], [5]]
    assert ds.item_records == [{"title": "one", "price": 1.5}, {"title": "two"}, {"price": 3.0}]


def test_fractional_times_keep_their_order(tmp_path):
    (tmp_path / "log.tsv").write_text("user_id\titem_id\ttimestamp\nu\ta\t1.5\nu\tb\t1.25\n")
    ds = load_dataset(str(tmp_path / "log.tsv"))
    assert rows(ds) == {"u": ["b", "a"]} and ds.timestamps[0].tolist() == [1.25, 1.5]


# ---- RecBole atomic files (real data) ---------------------------------------------------------------

needs_movielens = pytest.mark.skipif(not MOVIELENS.is_dir(), reason="movielens-100k is not available")


@pytest.fixture(scope="module")
def movielens_frame() -> pd.DataFrame:
    """The .inter file read independently of genrec, for reference counts."""
    frame = pd.read_csv(MOVIELENS / "ml-100k.inter", sep="\t", dtype=str)
    frame.columns = ["user", "item", "rating", "time"]
    return frame.assign(time=frame.time.astype(float), row=np.arange(len(frame)))


@needs_movielens
def test_movielens_counts_order_and_titles(movielens_frame):
    ds = load_dataset("movielens-100k")
    # the README: 100,000 rows, 1,682 items, 943 users
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (943, 1682, 100_000)
    assert ds.name == "movielens-100k"
    expected = movielens_frame.sort_values(["time", "row"], kind="stable").groupby("user", sort=False)
    user = str(ds.user_ids[5])
    reference = expected.get_group(user)
    assert [str(ds.item_ids[i]) for i in ds.sequences[5]] == reference.item.tolist()
    assert ds.timestamps[5].tolist() == reference.time.astype(np.int64).tolist()
    same_user = np.diff(np.repeat(np.arange(ds.n_users), ds.sequences.lengths)) == 0
    assert (np.diff(ds.timestamps.values)[same_user] >= 0).all()
    assert ds.item_records[ds.item_index()["1"]] == {"title": "Toy Story", "release_year": "1995",
                                                      "class": "Animation Children's Comedy"}


@needs_movielens
def test_movielens_kcore_matches_an_independent_count(movielens_frame):
    frame = movielens_frame
    while True:  # reference k-core with pandas group counts
        keep = ((frame.groupby("user").item.transform("size") >= 10)
                & (frame.groupby("item").user.transform("size") >= 10))
        if keep.all():
            break
        frame = frame[keep]
    ds = load_dataset(str(MOVIELENS), kcore=10)
    expected = (frame.user.nunique(), frame.item.nunique(), len(frame))
    assert (ds.n_users, ds.n_items, ds.n_interactions) == expected
    assert ds.sequences.lengths.min() >= 10
    assert np.bincount(ds.sequences.values).min() >= 10
