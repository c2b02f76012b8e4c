"""JSON Schema files for the public messages, generated from the models that validate them.

Run `python -m schemas.json_schema` after changing a model; a test fails while the committed
files differ from what the models generate.
"""

from __future__ import annotations

import sys
from pathlib import Path

import orjson

from schemas.events import Label, Prediction

SCHEMA_DIR = Path(__file__).parent

DEAD_LETTER_SCHEMA = {
    "title": "DeadLetter",
    "description": "A message of `<input topic>` that could not be used, on `<input topic>.dlq`.",
    "type": "object",
    "required": ["topic", "partition", "offset", "error", "raw"],
    "properties": {
        "topic": {"type": "string"},
        "partition": {"type": "integer"},
        "offset": {"type": "integer"},
        "error": {"type": "string", "description": "Why the message was rejected."},
        "raw": {
            "type": ["string", "null"],
            "description": "The original value: UTF-8 text, or base64 when raw_encoding says so.",
        },
        "raw_encoding": {"const": "base64"},
        "raw_truncated_from": {"type": "integer", "description": "Original size when cut."},
    },
}


def generated_schemas() -> dict[str, dict]:
    """File name to schema document, for every public input message."""
    documents = {
        "prediction.schema.json": Prediction.model_json_schema(),
        "label.schema.json": Label.model_json_schema(),
        "dead_letter.schema.json": DEAD_LETTER_SCHEMA,
    }
    for name, document in documents.items():
        document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        document["$id"] = name
    return documents


def render(document: dict) -> bytes:
    """Stable text: sorted keys, two-space indent, trailing newline."""
    return orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def write_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    written = []
    for name, document in generated_schemas().items():
        path = directory / name
        path.write_bytes(render(document))
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_schemas(Path(sys.argv[1]) if len(sys.argv) > 1 else SCHEMA_DIR):
        print(path)
