"""The HTTP API around any saved run: ``genrec serve RUN_DIR`` (FastAPI, served by uvicorn).

``POST /recommend`` with ``{"history": ["B00...", ...], "k": 10}`` returns the top-k rows;
``GET /health`` says which model and dataset are loaded. The run is loaded once, at start-up.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

from genrec.errors import GenrecError
from genrec.serving.recommend import RecommendationService


class RecommendRequest(BaseModel):
    history: list[str] = Field(min_length=1, description="Original item ids (or asins), oldest first.")
    k: int = Field(10, ge=1, le=1000)
    exclude_history: bool = False


def create_app(run_dir: str | Path) -> FastAPI:
    service = RecommendationService(run_dir)
    app = FastAPI(title="genrec", description=f"{service.config.model} on {service.config.dataset}")

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "model": service.config.model, "dataset": service.config.dataset,
                "items": service.dataset.n_items}

    @app.post("/recommend")
    def recommend(request: RecommendRequest) -> dict:
        try:
            rows = service.recommend(request.history, request.k, request.exclude_history)
        except GenrecError as e:
            raise HTTPException(status_code=422, detail=str(e)) from None
        return {"model": service.config.model, "items": rows}

    return app
