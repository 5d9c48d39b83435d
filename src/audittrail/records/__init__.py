"""Audit records: the wire schemas, ingest, queries and routes."""
