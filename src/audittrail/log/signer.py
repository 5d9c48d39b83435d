"""The log's signing identity: origin, key name and Ed25519 key, created on first start."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audittrail.integrity import checkpoint, verify


@dataclass(frozen=True)
class LogSigner:
    origin: str
    private_key: Ed25519PrivateKey

    @property
    def key_name(self) -> str:
        """Named after the origin, as transparency logs conventionally do."""
        return self.origin

    @property
    def verifier_key(self) -> str:
        public = checkpoint.public_key_bytes(self.private_key.public_key())
        return checkpoint.verifier_key(self.key_name, public)

    def sign(self, size: int, root: bytes) -> str:
        return self.sign_note(checkpoint.checkpoint_body(self.origin, size, root))

    def sign_note(self, body: str) -> str:
        """Any note this log vouches for (a checkpoint, an export's manifest)."""
        return checkpoint.sign_checkpoint(body, self.key_name, self.private_key)

    def disowns(self, note: str) -> str | None:
        """Why this key and origin did not sign this checkpoint; None when they did."""
        try:
            verify.verify_checkpoint(note, self.verifier_key, self.origin)
        except verify.VerificationError as error:
            return str(error)
        return None

    @classmethod
    def load(cls, origin: str, key_file: Path) -> LogSigner:
        """Load the key, or create it (mode 0600) if no process has yet; never replace one."""
        checkpoint.check_key_name(origin)
        try:
            return cls(origin, checkpoint.load_signing_key(key_file))
        except FileNotFoundError:
            pass
        key_file.parent.mkdir(parents=True, exist_ok=True)
        try:
            return cls(origin, checkpoint.generate_signing_key(key_file))
        except FileExistsError:  # another process created it first
            return cls(origin, checkpoint.load_signing_key(key_file))
