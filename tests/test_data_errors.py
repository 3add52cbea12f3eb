"""Bad input to the raw loaders: one DataError/GenrecError naming the file, the line and the field."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from genrec.cli import app
from genrec.data import load_dataset
from genrec.errors import DataError, GenrecError

LOG = "user_id,item_id,timestamp\n"


def write(path: Path, text: str) -> str:
    if path.name.endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return str(path)


def error(path: str, **options) -> DataError:
    with pytest.raises(DataError) as caught:
        load_dataset(path, **options)
    return caught.value


# ---- CSV / Parquet ----------------------------------------------------------------------------------

def test_misnamed_column_lists_the_columns_found(tmp_path):
    path = write(tmp_path / "log.csv", "user,item_id,time\nu,a,1\n")
    e = error(path)
    assert (e.path, e.field) == (Path(path), "user_id")
    assert str(e) == (f"{path}: field 'user_id': no column 'user_id'; "
                      f"columns found: 'user', 'item_id', 'time'; did you mean 'user'?")
    assert error(path, user_col="user").field == "timestamp"
    semicolons = write(tmp_path / "semi.csv", "user_id;item_id;timestamp\nu;a;1\n")
    assert "is the separator right? (give sep=)" in str(error(semicolons))
    assert load_dataset(semicolons, sep=";").n_interactions == 1


def test_empty_file_and_header_only(tmp_path):
    assert "empty file" in str(error(write(tmp_path / "empty.csv", "")))
    assert "no rows" in str(error(write(tmp_path / "header.csv", LOG)))
    assert "no rows" in str(error(write(tmp_path / "blank.csv", LOG + "\n\n")))


def test_non_numeric_timestamp_names_line_and_field(tmp_path):
    path = write(tmp_path / "log.csv", LOG + "u,a,1\n\nu,b,2\nu,c,yesterday\n")
    e = error(path)
    assert (e.line, e.field) == (5, "timestamp")  # the blank line 3 still counts
    assert str(e) == f"{path}, line 5: field 'timestamp': 'yesterday' is not a number"
    assert error(write(tmp_path / "gap.csv", LOG + "u,a,1\nu,b,\n")).line == 3


def test_empty_id_and_malformed_line(tmp_path):
    e = error(write(tmp_path / "log.csv", LOG + "u,a,1\n,b,2\n"))
    assert (e.line, e.field, str(e).endswith("empty id")) == (3, "user_id", True)
    e = error(write(tmp_path / "wide.csv", LOG + "u,a,1\nu,b,2,extra\n"))
    assert e.line == 3 and "malformed line" in str(e)
    e = error(write(tmp_path / "wider.csv", LOG + "u,a,1,extra\nu,b,2,extra\n"))
    assert "more fields than the header" in str(e)


def test_item_table_duplicates_and_unknown_items(tmp_path):
    log = write(tmp_path / "log.csv", LOG + "u,a,1\nu,b,2\nv,zz,3\n")
    dup = write(tmp_path / "items.csv", "item_id,title\na,A\nb,B\na,again\n")
    e = error(log, items=dup)
    assert (e.path, e.line, e.field) == (Path(dup), 4, "item_id")
    assert "duplicate item id 'a' (first on line 2)" in str(e)
    items = write(tmp_path / "items2.csv", "item_id,title\na,A\nb,B\n")
    e = error(log, items=items)
    assert (e.path, e.line, e.field) == (Path(log), 4, "item_id")
    assert f"item 'zz' is not in {items} (1 unknown item in all)" in str(e)
    assert error(log, items=write(tmp_path / "items3.csv", "sku,title\na,A\n")).field == "item_id"


def test_parquet_errors_name_the_row(tmp_path):
    path = tmp_path / "log.parquet"
    log = {"user_id": ["u", "u", "v"], "item_id": ["a", None, "c"], "timestamp": [1, 2, 3]}
    pd.DataFrame(log).to_parquet(path)
    e = error(str(path))
    assert (e.line, e.field) == (2, "item_id")
    pd.DataFrame({"user_id": ["u"], "item": ["a"], "timestamp": [1]}).to_parquet(path)
    assert "columns found: 'user_id', 'item', 'timestamp'" in str(error(str(path)))
    pd.DataFrame({"user_id": ["u"], "item_id": ["a"], "timestamp": ["noon"]}).to_parquet(path)
    assert str(error(str(path))).endswith("line 1: field 'timestamp': 'noon' is not a number")
    broken = write(tmp_path / "broken.parquet", "not parquet at all")
    assert "not a readable Parquet file" in str(error(broken))


# ---- RecBole ----------------------------------------------------------------------------------------

def test_recbole_errors(tmp_path):
    folder = tmp_path / "rb"
    folder.mkdir()
    inter = write(folder / "x.inter", "user_id:token\titem_id:token\ttimestamp:float\n1\t2\t3\n1\t3\tlate\n")
    e = error(str(folder))
    assert (e.path, e.line, e.field) == (Path(inter), 3, "timestamp")
    write(folder / "x.item", "item_id:token\ttitle:token_seq\n2\tTwo\n")
    write(folder / "x.inter", "user_id:token\titem_id:token\ttimestamp:float\n1\t2\t3\n1\t3\t4\n")
    e = error(str(folder))
    assert (e.line, e.field) == (3, "item_id") and "item '3' is not in" in str(e)
    write(folder / "x.item", "item_id:token\tprice:float\n2\t1.5\n3\tcheap\n")
    e = error(str(folder))
    assert (e.path, e.line, e.field) == (folder / "x.item", 3, "price")
    assert "'cheap' is not a number" in str(e)
    write(folder / "x.item", "item_id:token\tprice:float\tbook_title:token_seq\n2\t1.5\tTwo\n3\t\tThree\n")
    assert load_dataset(str(folder)).item_records == [{"price": 1.5, "title": "Two"}, {"title": "Three"}]
    write(folder / "y.inter", "user_id:token\titem_id:token\n")
    assert "expected exactly one .inter file, found x.inter, y.inter" in str(error(str(folder)))


# ---- raw Amazon 2014 --------------------------------------------------------------------------------

REVIEW = '{{"reviewerID": "{u}", "asin": "{i}", "unixReviewTime": {t}}}\n'


def test_reviews_errors_name_line_and_field(tmp_path):
    good = REVIEW.format(u="A", i="B", t=1)
    path = write(tmp_path / "reviews_X_5.json.gz", good + "\n" + good + '{"reviewerID": "A", "asin": "B"\n')
    e = error(path)
    assert e.line == 4 and "not a JSON object" in str(e)
    path = write(tmp_path / "reviews_X_5.json.gz", good + '{"reviewerID": "A", "asin": "C"}\n')
    assert (error(path).line, error(path).field) == (2, "unixReviewTime")
    path = write(tmp_path / "reviews_X_5.json.gz", good + REVIEW.format(u="A", i="C", t='"soon"'))
    expected = f"{path}, line 2: field 'unixReviewTime': 'soon' is not a number (Unix seconds)"
    assert str(error(path)) == expected
    path = write(tmp_path / "reviews_X_5.json.gz", '{"asin": "C", "unixReviewTime": 3}\n')
    assert (error(path).line, error(path).field) == (1, "reviewerID")
    path = write(tmp_path / "reviews_X_5.json.gz", good + REVIEW.format(u="", i="C", t=3))
    assert (error(path).line, error(path).field) == (2, "reviewerID")


def test_truncated_gzip_and_empty_reviews(tmp_path):
    path = tmp_path / "reviews_X_5.json.gz"
    write(path, REVIEW.format(u="A", i="B", t=1) * 2000)
    path.write_bytes(path.read_bytes()[:-40])
    assert "not a complete gzip file" in str(error(str(path)))
    assert "no reviews" in str(error(write(path, "")))


def test_meta_is_parsed_as_literals_never_evaluated(tmp_path):
    reviews = "".join(REVIEW.format(u="A", i=i, t=t) for t, i in enumerate("BC"))
    write(tmp_path / "reviews_X_5.json.gz", reviews)
    marker = tmp_path / "pwned"
    meta = write(tmp_path / "meta_X.json.gz",
                 "{'asin': 'B', 'title': 'ok'}\n"
                 f"{{'asin': 'C', 'title': __import__('pathlib').Path({str(marker)!r}).touch()}}\n")
    e = error(str(tmp_path), kcore=0)
    assert (e.path, e.line) == (Path(meta), 2) and "not a Python dict literal" in str(e)
    assert not marker.exists()
    write(tmp_path / "meta_X.json.gz", "{'asin': 'B'}\n['C']\n")
    assert "line 2: not a Python dict literal" in str(error(str(tmp_path), kcore=0))
    write(tmp_path / "meta_X.json.gz", "{'asin': 'B'}\n{'title': 'no id'}\n")
    assert str(error(str(tmp_path), kcore=0)).endswith("line 2: field 'asin': missing product id")
    write(tmp_path / "meta_X.json.gz", "{'asin': 'B'}\n{'asin': 'C'}\n{'asin': 'B', 'title': 'again'}\n")
    expected = "line 3: field 'asin': duplicate product 'B' (first on line 1)"
    assert expected in str(error(str(tmp_path), kcore=0))


def test_kcore_that_leaves_nothing(tmp_path):
    write(tmp_path / "reviews_X_5.json.gz", REVIEW.format(u="A", i="B", t=1))
    assert "no interactions left after 5-core filtering" in str(error(str(tmp_path)))


# ---- dispatch and CLI -------------------------------------------------------------------------------

def test_unknown_option_and_unknown_dataset(tmp_path):
    path = write(tmp_path / "log.csv", LOG + "u,a,1\n")
    with pytest.raises(GenrecError, match=r"option kcroe not used for .*log\.csv \(load_interactions\); "):
        load_dataset(path, kcroe=5)
    with pytest.raises(GenrecError, match="no dataset at"):
        load_dataset(str(tmp_path / "nothing-here"))


def test_cli_prints_one_line_for_a_bad_file(tmp_path):
    path = write(tmp_path / "log.csv", LOG + "u,a,1\nu,b,x\n")
    result = CliRunner().invoke(app, ["data", "info", path])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"{path}, line 3: field 'timestamp'" in result.output
