"""The gateway's request and response bodies as msgspec Structs, a module per area.

msgspec because one library gives both what the scan path needs and what the API document needs: decoding
JSON straight into a typed Struct with its bounds checked, in C, within the scan path's budget (measured by
`python -m loadtest.request_decode_cost`), and JSON Schema for the same types (`msgspec.json.schema_components`),
so checkin/gateway/openapi.py generates the document from the very types the handlers decode.
Request Structs ignore unknown fields (old kiosks keep working); answer Structs forbid them, so the schema
says additionalProperties false and a test that validates real answers catches a field nobody described.
"""
