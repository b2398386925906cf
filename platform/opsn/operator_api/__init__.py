"""The operator's HTTP API (OpenAPI at /api/v1/openapi.json, docs at /api/v1/docs)."""
