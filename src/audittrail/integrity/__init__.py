"""Integrity core: canonical leaves, the Merkle tree, proofs, checkpoints and their verifier."""
