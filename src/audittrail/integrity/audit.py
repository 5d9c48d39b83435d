"""Recomputes a log from its entries, in order, and names the first place it stops fitting.

Sources (the database, a running server, an exported file) feed entries one by one, or their
leaf hashes where they were computed elsewhere, with the stored leaf hash of each where they
have one; checkpoints are verified against the published key before they are handed in.
Nothing here trusts the stored tree: every root is recomputed.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, cast

from audittrail.integrity import canonical
from audittrail.integrity.hashing import leaf_hash
from audittrail.integrity.problems import EXACT, Kind, Problem
from audittrail.integrity.tree import Frontier
from audittrail.integrity.verify import (
    Checkpoint,
    VerificationError,
    verify_checkpoint,
    verify_consistency,
)


def verified_checkpoints(
    notes: Iterable[str], verifier_key: str
) -> tuple[list[Checkpoint], list[Problem]]:
    """The checkpoints whose signature holds, by size; a problem for each one that does not."""
    checkpoints: list[Checkpoint] = []
    problems: list[Problem] = []
    for note in notes:
        try:
            checkpoints.append(verify_checkpoint(note, verifier_key))
        except VerificationError as error:
            lines = note.split("\n")
            claimed = lines[1] if len(lines) > 1 else "?"
            problems.append(
                Problem(Kind.BAD_SIGNATURE, None, f"checkpoint of size {claimed}: {error}")
            )
    return sorted(checkpoints, key=lambda checkpoint: checkpoint.size), problems


@dataclass
class LogAudit:
    """Feed entries in log order with `add`, then call `finish`; read `problems`."""

    checkpoints: list[Checkpoint]
    problems: list[Problem] = field(default_factory=list)
    _frontier: Frontier = field(default_factory=Frontier)
    _roots: dict[int, bytes] = field(init=False)
    _sizes: list[int] = field(init=False)
    _last_good_size: int = 0
    _root_failed: bool = False
    _stopped: bool = False
    # (missing seq, seq found in its place) until the skipped seq turns up or the entries end.
    _skipped: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        self._roots = {checkpoint.size: checkpoint.root_hash for checkpoint in self.checkpoints}
        self._sizes = sorted(self._roots)

    def consistency_pairs(self) -> list[tuple[Checkpoint, Checkpoint]]:
        """Each checkpoint with the next larger one (size 0 has no consistency proof)."""
        sized = [checkpoint for checkpoint in self.checkpoints if checkpoint.size > 0]
        return [(a, b) for a, b in pairwise(sized) if a.size < b.size]

    def check_consistency(self, older: Checkpoint, newer: Checkpoint, proof: list[bytes]) -> None:
        try:
            verify_consistency(older.size, newer.size, proof, older.root_hash, newer.root_hash)
        except VerificationError as error:
            self.inconsistent(older.size, newer.size, str(error))

    @property
    def size(self) -> int:
        return self._frontier.size

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(
        self,
        entry: Mapping[str, Any],
        stored_leaf_hash: bytes | None = None,
        leaf_bytes: bytes | None = None,
    ) -> bool:
        """Check one entry; False once the entries after it can no longer change the verdict.

        ``leaf_bytes``, where given, are hashed as the leaf instead of the entry's canonical
        encoding: the source vouches that they are that encoding, and only a root says so.
        """
        verdict = self._out_of_place(entry.get("seq"))
        if verdict is not None:
            return verdict
        try:
            if leaf_bytes is None:
                leaf_bytes = canonical.record_leaf_bytes(entry)
            leaf = leaf_hash(leaf_bytes)
        except ValueError as error:
            return self._unencodable(error)
        return self._append(leaf, stored_leaf_hash)

    def add_leaf(self, seq: Any, leaf: bytes | ValueError, stored_leaf_hash: bytes | None) -> bool:
        """`add` for an entry hashed elsewhere: its leaf hash, or the error its encoding raised."""
        verdict = self._out_of_place(seq)
        if verdict is not None:
            return verdict
        if isinstance(leaf, ValueError):
            return self._unencodable(leaf)
        return self._append(leaf, stored_leaf_hash)

    def add_all(self, entries: Iterable[tuple[Mapping[str, Any], bytes | None]]) -> None:
        for entry, stored in entries:
            if not self.add(entry, stored):
                return

    def add_leaves(
        self,
        seqs: Sequence[Any],
        leaves: Sequence[bytes | ValueError],
        stored_leaf_hashes: Sequence[bytes | None],
    ) -> None:
        """`add_leaf` for each of a run of entries hashed elsewhere, in one go where it can be:
        the next seqs in order, each leaf its stored hash, so there is nothing to report but
        the roots."""
        size = self.size
        if (
            self._skipped is None
            and not self._stopped
            and leaves == stored_leaf_hashes
            and seqs == list(range(size, size + len(seqs)))
        ):
            self._append_run(cast("Sequence[bytes]", leaves))  # equal to stored hashes: bytes
            return
        for seq, leaf, stored in zip(seqs, leaves, stored_leaf_hashes, strict=True):
            if not self.add_leaf(seq, leaf, stored):
                return

    def add_vouched(self, leaves: Sequence[bytes]) -> None:
        """Leaves of the next entries, taken to be in order and unchanged without a look at them.

        Only for a pass whose verdict counts when it is ok: every root then vouches for the
        entries, since each leaf holds its seq. Anything else must be redone entry by entry to
        say what is wrong, and where.
        """
        if self._skipped is None and not self._stopped:
            self._append_run(leaves)

    def _append_run(self, leaves: Sequence[bytes]) -> None:
        """Append the leaves, checking the root at each checkpoint's size among them."""
        start = self.size
        for size in self._sizes[bisect_right(self._sizes, start) :]:
            if size > start + len(leaves):
                break
            self._frontier.extend(leaves[self.size - start : size - start])
            self._check_checkpoint_root()
        self._frontier.extend(leaves[self.size - start :])

    def _out_of_place(self, seq: Any) -> bool | None:
        """What `add` returns for an entry that is not the next leaf; None for one that is."""
        if self._skipped is not None:
            return self._look_for_skipped(seq)
        if self._stopped:
            return False
        if self._in_order(seq):
            return None
        self._stopped = True
        return self._skipped is not None

    def _unencodable(self, error: ValueError) -> bool:
        self._report(Kind.CHANGED, self.size, f"the entry cannot be encoded: {error}")
        self._stopped = True
        return False

    def _append(self, leaf: bytes, stored_leaf_hash: bytes | None) -> bool:
        if stored_leaf_hash is not None and stored_leaf_hash != leaf:
            self._report(
                Kind.CHANGED, self.size, "the record no longer hashes to its stored leaf hash"
            )
        self._frontier.extend([leaf])
        self._check_checkpoint_root()
        return True

    def _in_order(self, seq: Any) -> bool:
        expected = self.size
        number = isinstance(seq, int) and not isinstance(seq, bool)  # bool is an int to Python
        if number and seq == expected:
            return True
        if number and seq > expected:
            # Missing, or only moved further down: the entries after it tell which.
            self._skipped = (expected, seq)
        elif number:
            self._report(Kind.REORDERED, expected, f"found seq {seq} where seq {expected} belongs")
        else:
            self._report(Kind.CHANGED, expected, f"the entry's seq is {seq!r}, not a number")
        return False

    def _look_for_skipped(self, seq: Any) -> bool:
        """After a gap: the skipped seq turning up later means the entries were reordered."""
        assert self._skipped is not None
        missing, found = self._skipped
        if seq != missing or isinstance(seq, bool):
            return True
        self._skipped = None
        self._report(Kind.REORDERED, missing, f"seq {found} comes before seq {missing}")
        return False

    def _check_checkpoint_root(self) -> None:
        size = self.size
        root = self._roots.get(size)
        if root is None or self._root_failed:
            return
        if self._frontier.root() == root:
            self._last_good_size = size
            return
        self._root_failed = True
        self._report(
            Kind.ROOT_MISMATCH,
            self._last_good_size,
            f"the signed checkpoint of size {size} does not match the records; the first bad "
            f"record is at seq {self._last_good_size} or later (the checkpoint of size "
            f"{self._last_good_size} still matches)",
        )

    def inconsistent(self, first: int, second: int, message: str) -> None:
        self._report(
            Kind.INCONSISTENT, first, f"checkpoints of size {first} and {second}: {message}"
        )

    def finish(self, expected_size: int | None = None) -> None:
        """After the last entry: every checkpoint reached, and as many entries as the log says."""
        if self._skipped is not None:
            missing, found = self._skipped
            self._report(Kind.MISSING, missing, f"the next entry after it is seq {found}")
        if self._stopped:
            return
        beyond = [size for size in self._roots if size > self.size]
        if beyond:
            self._report(
                Kind.MISSING,
                self.size,
                f"a signed checkpoint covers {max(beyond)} records; only {self.size} were found",
            )
        if expected_size is not None and self.size < expected_size and not beyond:
            self._report(
                Kind.MISSING, self.size, f"the log holds {expected_size}; {self.size} were found"
            )
        if expected_size is not None and self.size > expected_size:
            self._report(
                Kind.EXTRA,
                expected_size,
                f"the log holds {expected_size} records; {self.size} were found",
            )

    def first_problem(self) -> Problem | None:
        """The lowest seq known to be bad; a root mismatch only bounds it, so it comes last."""
        exact = [p for p in self.problems if p.seq is not None and p.kind in EXACT]
        if exact:
            return min(exact, key=lambda problem: problem.seq or 0)
        return self.problems[0] if self.problems else None

    def _report(self, kind: Kind, seq: int | None, message: str) -> None:
        self.problems.append(Problem(kind, seq, message))
