"""Validate requests and responses against an OpenAPI 3.1 document with jsonschema.

The schemas come from the document itself (components/schemas, parameters, requestBodies,
responses), resolved by `$ref` inside the document; formats (uri, email, iso8601, ...) are
checked. Nothing here is a hand-written check of a particular field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import yaml


def _is_uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return bool(parts.scheme and parts.netloc) and " " not in value


def _is_iso8601(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


FORMATS = jsonschema.FormatChecker()
FORMATS.checks("uri")(_is_uri)
FORMATS.checks("iso8601")(_is_iso8601)


class OpenApiError(AssertionError):
    """A request or response that the OpenAPI document does not allow."""


class OpenApi:
    """One OpenAPI document: find an operation by method and path, validate against it."""

    def __init__(self, path: Path) -> None:
        self.doc: dict[str, Any] = yaml.safe_load(path.read_text())
        self._paths = [
            (re.compile("^" + re.sub(r"\{[^}/]+\}", "[^/]+", template) + "/?$"), template)
            for template in self.doc["paths"]
        ]

    def _resolve(self, node: Any) -> Any:
        while isinstance(node, dict) and "$ref" in node and len(node) == 1:
            node = self._pointer(node["$ref"])
        return node

    def _pointer(self, ref: str) -> Any:
        node: Any = self.doc
        for part in ref.removeprefix("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
        for pattern, template in self._paths:
            if pattern.match(path):
                item = self.doc["paths"][template]
                op = item.get(method.lower())
                if op is None:
                    raise OpenApiError(f"{method} {template}: no such operation")
                return template, item, op
        raise OpenApiError(f"{path}: no such path in the API")

    def _validate(self, schema: Any, value: Any, what: str) -> None:
        # The schema is validated as a subschema of the whole document, so that
        # "#/components/..." references resolve inside it.
        root = {**self.doc, **schema} if isinstance(schema, dict) else schema
        validator = jsonschema.Draft202012Validator(root, format_checker=FORMATS)
        errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
        if errors:
            first = errors[0]
            where = "/".join(str(p) for p in first.absolute_path) or "(root)"
            raise OpenApiError(f"{what}: at {where}: {first.message}")

    def validate_request(
        self, method: str, path: str, query: Mapping[str, str], body: Any | None, ctype: str
    ) -> None:
        template, item, op = self.operation(method, path)
        params = [
            self._resolve(p) for p in (*item.get("parameters", ()), *op.get("parameters", ()))
        ]
        known = {p["name"]: p for p in params if p.get("in") == "query"}
        for name, raw in query.items():
            param = known.get(name)
            if param is None:
                raise OpenApiError(f"{method} {template}: unknown query parameter {name!r}")
            schema = param.get("schema", {})
            value: Any = raw
            if schema.get("type") == "integer":
                if not re.fullmatch(r"-?\d+", raw):
                    raise OpenApiError(f"{method} {template}: {name}={raw!r} is not an integer")
                value = int(raw)
            self._validate(schema, value, f"{method} {template} query {name}")
        if "requestBody" in op:
            request_body = self._resolve(op["requestBody"])
            if body is None:
                if request_body.get("required"):
                    raise OpenApiError(f"{method} {template}: a request body is required")
                return
            media = request_body["content"].get(ctype)
            if media is None:
                raise OpenApiError(f"{method} {template}: body type {ctype!r} not accepted")
            self._validate(media["schema"], body, f"{method} {template} request body")

    def validate_response(self, method: str, path: str, status: int, ctype: str, body: Any) -> None:
        template, _, op = self.operation(method, path)
        responses = op.get("responses", {})
        spec = responses.get(str(status)) or responses.get("default")
        if spec is None:
            raise OpenApiError(f"{method} {template}: status {status} is not documented")
        spec = self._resolve(spec)
        content = spec.get("content")
        if not content:
            return
        media = content.get(ctype)
        if media is None:
            raise OpenApiError(
                f"{method} {template} {status}: content type {ctype!r} not documented"
            )
        self._validate(media["schema"], body, f"{method} {template} {status} response")


@cache
def load(path: Path) -> OpenApi:
    return OpenApi(path)
