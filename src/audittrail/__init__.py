"""audittrail: a self-hosted, verifiable audit-trail service."""
