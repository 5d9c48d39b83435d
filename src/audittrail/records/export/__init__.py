"""Exports: streamed views of the records, signed manifests, evidence packs, export jobs."""
