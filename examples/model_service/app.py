"""An example model service that logs every prediction to Kafka with `PredictionLogger`.

A toy fraud model (a fixed logistic score on two features) behind FastAPI. Each `POST /predict`
answers with the decision and queues the prediction on the `predictions` topic; the request never
waits for Kafka and never fails because of it (see slo_monitor/instrument.py).

Run it (after `make install` and `make kafka-up`):

    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 .venv/bin/uvicorn examples.model_service.app:app --port 8000
    curl -s localhost:8000/predict -H 'content-type: application/json' \\
         -d '{"features": {"amount": 420.0, "account_age_days": 3}, "segment": {"country": "US"}}'

Environment: KAFKA_BOOTSTRAP_SERVERS, PREDICTIONS_TOPIC (default predictions), MODEL_ID
(fraud-detector), MODEL_VERSION (1), REVIEW_PROBABILITY (share of predictions sent to human
review; the monitor weights labels by it; default 1).
"""

from __future__ import annotations

import math
import os
import uuid
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from pydantic import BaseModel, Field

from slo_monitor.instrument import PredictionLogger

THRESHOLD = 0.5


class PredictRequest(BaseModel):
    features: dict[str, float] = Field(description="amount and account_age_days are used; others are logged")
    segment: dict[str, str] = Field(default_factory=dict)
    request_id: str | None = Field(default=None, max_length=256, description="becomes the prediction_id")


class PredictResponse(BaseModel):
    prediction_id: str
    model_version: str
    fraud: int
    score: float


def score(features: dict[str, float]) -> float:
    """The toy model: large amounts on young accounts look like fraud."""
    amount = features.get("amount", 0.0)
    age = features.get("account_age_days", 365.0)
    return 1 / (1 + math.exp(-(0.01 * amount - 0.05 * age - 2.0)))


@asynccontextmanager
async def lifespan(app: FastAPI):
    app.state.logger = PredictionLogger(
        os.environ.get("KAFKA_BOOTSTRAP_SERVERS"), os.environ.get("PREDICTIONS_TOPIC", "predictions"),
        model_id=os.environ.get("MODEL_ID", "fraud-detector"), model_version=os.environ.get("MODEL_VERSION", "1"),
    )
    app.state.review_probability = float(os.environ.get("REVIEW_PROBABILITY", "1"))
    yield
    app.state.logger.close()


app = FastAPI(title="example fraud model", lifespan=lifespan)


@app.post("/predict", response_model=PredictResponse)
def predict(body: PredictRequest, request: Request) -> PredictResponse:
    logger: PredictionLogger = request.app.state.logger
    prediction_id = body.request_id or uuid.uuid4().hex
    probability = score(body.features)
    fraud = int(probability >= THRESHOLD)
    logger.log(prediction_id=prediction_id, predicted_label=fraud, score=probability, features=body.features,
               segment=body.segment, review_probability=request.app.state.review_probability)
    return PredictResponse(prediction_id=prediction_id, model_version=logger.model_version or "", fraud=fraud,
                           score=probability)


@app.get("/healthz")
def healthz(request: Request) -> dict:
    logger: PredictionLogger = request.app.state.logger
    return {"status": "ok", "predictions": dict(logger.counts), "pending": logger.pending()}
