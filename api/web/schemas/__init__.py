"""The HTTP contract: the response model of every JSON route, so the OpenAPI document
(`/api/v1/openapi.json`) is the contract and docs/api.md its prose."""
