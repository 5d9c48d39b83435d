"""The stored log: its head and lock, appends, the Merkle tree store, checkpoints and their
signer, system records, proofs and tiles, and reading the log back for `audittrail verify`."""
