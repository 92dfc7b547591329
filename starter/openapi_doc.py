"""The API's OpenAPI document as the API really behaves (starter/api.py builds the app).

The event and action routes parse their bodies themselves, so their real schemas are put in;
every route with a body can answer 413 before its code runs (`BodyLimit`), the webhooks also
400 and 415; and a 422 is one `field: problem` text, not FastAPI's list. schemathesis checks
the API against this document (tests/fuzz/test_schemathesis.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, TypeAdapter

from domain.messages import AgentAction
from starter.event_schema import BillingEvent


class Problem(BaseModel):
    detail: str


def openapi_builder(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """Show the real event and action schemas in /docs although the routes parse bodies
    themselves (see the module docstring)."""

    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        bodies: dict[tuple[str, str], TypeAdapter[Any]] = {
            ("/v1/events", "post"): TypeAdapter(BillingEvent | list[BillingEvent]),
            ("/v1/invoices/{invoice_id}/actions", "post"): TypeAdapter(AgentAction),
        }
        for (path, method), adapter in bodies.items():
            body = adapter.json_schema(ref_template="#/components/schemas/{model}")
            components.update(body.pop("$defs", {}))
            op = schema["paths"][path][method]
            op["requestBody"]["content"]["application/json"]["schema"] = body
        _document_body_refusals(schema)
        app.openapi_schema = schema
        return schema

    return build


_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def _document_body_refusals(schema: dict[str, Any]) -> None:
    """Answers every route with a body can give before its own code runs: 413 from `BodyLimit`;
    and the webhooks' 400 (not JSON) and 415 (not the form they expect)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("Problem", Problem.model_json_schema())
    # FastAPI documents its own 422 as a list of errors; ours is one `field: problem` text.
    components["HTTPValidationError"] = Problem.model_json_schema()
    components.pop("ValidationError", None)
    refusals = {
        "413": "The body is larger than MAX_REQUEST_BYTES.",
        "400": "The body is not what the provider sends (not JSON).",
        "415": "The body is not the form the provider sends.",
    }
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            if "requestBody" not in operation and not path.startswith("/v1/webhooks/"):
                continue
            codes = ["413"] + (["400", "415"] if path.startswith("/v1/webhooks/") else [])
            for code in codes:
                operation["responses"].setdefault(
                    code,
                    {
                        "description": refusals[code],
                        "content": {"application/json": {"schema": _PROBLEM_REF}},
                    },
                )
