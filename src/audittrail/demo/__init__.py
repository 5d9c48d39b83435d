"""Demo data: `audittrail seed` fills an empty log with a realistic, verifiable history."""
