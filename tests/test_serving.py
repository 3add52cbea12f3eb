from fastapi.testclient import TestClient

from genrec.runs import resolve_config, train_run
from genrec.serving.http import create_app


def test_http_api_serves_a_saved_run(beauty, tmp_path):
    train_run(resolve_config("popularity", "amazon2014/beauty"), tmp_path / "run")
    client = TestClient(create_app(tmp_path / "run"))

    health = client.get("/health").json()
    assert health == {"status": "ok", "model": "popularity", "dataset": "amazon2014/beauty", "items": 12_101}

    reply = client.post("/recommend", json={"history": ["B004756YJA"], "k": 5})
    assert reply.status_code == 200
    rows = reply.json()["items"]
    assert [row["rank"] for row in rows] == [1, 2, 3, 4, 5]
    assert all(row["title"] for row in rows) and rows[0]["score"] >= rows[-1]["score"]

    masked = client.post("/recommend",
                         json={"history": [rows[0]["item_id"]], "k": 5, "exclude_history": True})
    assert rows[0]["item_id"] not in [row["item_id"] for row in masked.json()["items"]]

    unknown = client.post("/recommend", json={"history": ["NOPE"]})
    assert unknown.status_code == 422 and "NOPE" in unknown.json()["detail"]
    assert client.post("/recommend", json={"history": []}).status_code == 422
