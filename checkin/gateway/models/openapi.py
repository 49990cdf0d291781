"""GET /api/v1/openapi.json answers an OpenAPI 3.1 document (https://spec.openapis.org/oas/v3.1.0)."""

from __future__ import annotations

from typing import Any

import msgspec


class OpenApiDocument(msgspec.Struct):
    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]
    components: dict[str, Any]
