"""Evidence packs, checked offline: a good pack verifies, and every change to one is named.

Packs are made here with the integrity functions alone (tests/integrity/packs.py), as the
server makes them; `audittrail verify --pack` is run in process.
"""

import dataclasses
import hashlib
import io
import zipfile
from pathlib import Path

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from audittrail import cli
from audittrail.integrity.audit import Kind
from audittrail.integrity.manifest import manifest_body, parse_manifest_body
from audittrail.integrity.pack import (
    CHECKPOINT,
    MANIFEST,
    PROOFS,
    RANGE_PROOF,
    RECORDS,
    VERIFIER_KEY,
    PackReport,
    verify_pack,
)
from audittrail.integrity.verify import VerificationError, verify_note

from .packs import Log, new_log, zipped

SIZE = 37
# Records as a filtered export picks them: some of the log, not in one run.
PICKED = [0, 3, 4, 5, 9, 16, 17, 22, 30, 35, 36]


@pytest.fixture(scope="module")
def log() -> Log:
    return new_log(SIZE)


def verified(members: dict[str, bytes], key: str | None = None) -> PackReport:
    return verify_pack(zipped(members), key)


def named(report: PackReport) -> set[tuple[Kind, int | None]]:
    """What went wrong where, but for the manifest's disagreement with a changed file."""
    return {(p.kind, p.seq) for p in report.problems if p.kind is not Kind.MANIFEST_MISMATCH}


def mismatched(report: PackReport) -> set[str]:
    """The manifest's lines that disagree with the pack."""
    return {p.message.split()[2] for p in report.problems if p.kind is Kind.MANIFEST_MISMATCH}


def record_lines(members: dict[str, bytes]) -> list[bytes]:
    return members[RECORDS].splitlines()


def with_records(members: dict[str, bytes], lines: list[bytes]) -> dict[str, bytes]:
    return {**members, RECORDS: b"".join(line + b"\n" for line in lines)}


@pytest.mark.parametrize(
    ("seqs", "seq_range"),
    [
        (PICKED, None),
        ([], None),
        (list(range(0, 10)), (0, 10)),
        (list(range(27, SIZE)), (27, SIZE)),
        (list(range(10, 20)), (10, 20)),
        ([17], (17, 18)),
        (list(range(SIZE)), (0, SIZE)),
        ([], (12, 12)),
    ],
)
def test_a_good_pack_verifies(log: Log, seqs: list[int], seq_range: tuple[int, int]) -> None:
    report = verified(log.pack(seqs, seq_range), log.verifier_key)
    assert report.problems == []
    assert report.records == len(seqs)
    assert report.checkpoint is not None and report.checkpoint.size == SIZE
    assert report.manifest is not None and report.manifest.range == seq_range
    assert not report.own_key


def test_without_a_key_the_pack_vouches_for_itself_and_says_so(log: Log) -> None:
    report = verified(log.pack(PICKED))
    assert report.ok and report.own_key
    assert report.verifier_key == log.verifier_key
    assert report.key_id == "+".join(log.verifier_key.split("+")[:2])


def test_a_removed_record_is_named_missing(log: Log) -> None:
    members = log.pack(PICKED)
    lines = record_lines(members)
    report = verified(with_records(members, lines[:4] + lines[5:]), log.verifier_key)
    assert named(report) == {(Kind.MISSING, PICKED[4])}
    assert mismatched(report) == {"records", "data_sha256"}


def test_a_record_changed_by_one_byte_is_named(log: Log) -> None:
    members = log.pack(PICKED)
    lines = record_lines(members)
    lines[6] = lines[6].replace(b"paid", b"pain")
    report = verified(with_records(members, lines), log.verifier_key)
    assert named(report) == {(Kind.CHANGED, PICKED[6])}
    assert mismatched(report) == {"data_sha256"}


def test_an_added_record_is_named_extra(log: Log) -> None:
    members = log.pack(PICKED)
    lines = record_lines(members)
    report = verified(with_records(members, [*lines[:3], log.lines[1], *lines[3:]]))
    assert named(report) == {(Kind.EXTRA, 1), (Kind.REORDERED, 1)}


def test_an_added_record_at_the_end_is_only_extra(log: Log) -> None:
    members = log.pack(PICKED[:-1])
    report = verified(with_records(members, [*record_lines(members), log.lines[36]]))
    assert named(report) == {(Kind.EXTRA, 36)}
    assert mismatched(report) == {"records", "last_seq", "data_sha256"}


def test_reordered_records_are_named(log: Log) -> None:
    members = log.pack(PICKED)
    lines = record_lines(members)
    lines[2], lines[3] = lines[3], lines[2]
    report = verified(with_records(members, lines), log.verifier_key)
    assert named(report) == {(Kind.REORDERED, PICKED[2])}
    assert mismatched(report) == {"data_sha256"}


def test_a_record_whose_proof_was_changed_is_named(log: Log) -> None:
    members = log.pack(PICKED)
    proofs = [orjson.loads(line) for line in members[PROOFS].splitlines()]
    path = proofs[3]["inclusion_path"]
    path[2] = path[1]
    members[PROOFS] = b"".join(orjson.dumps(proof) + b"\n" for proof in proofs)
    report = verified(members, log.verifier_key)
    assert [(p.kind, p.seq) for p in report.problems] == [(Kind.CHANGED, PICKED[3])]
    assert "does not lead to the given root" in report.problems[0].message


def test_a_record_that_is_no_json_is_named_by_its_line(log: Log) -> None:
    members = log.pack(PICKED)
    lines = record_lines(members)
    lines[1] = lines[1][1:]
    report = verified(with_records(members, lines), log.verifier_key)
    assert named(report) == {(Kind.CHANGED, None), (Kind.MISSING, PICKED[1])}
    assert f"{RECORDS} line 2 is not a record" in {p.message for p in report.problems}


def test_a_wrong_checkpoint_signature_stops_the_check(log: Log) -> None:
    members = log.pack(PICKED)
    note = members[CHECKPOINT].decode()
    body, signature_line = note.rsplit("\n\n", 1)
    body = body.replace(f"\n{SIZE}\n", f"\n{SIZE + 1}\n")
    members[CHECKPOINT] = f"{body}\n\n{signature_line}".encode()
    report = verified(members, log.verifier_key)
    assert [(p.kind, p.seq) for p in report.problems] == [(Kind.BAD_SIGNATURE, None)]
    assert CHECKPOINT in report.problems[0].message
    assert report.checkpoint is None and report.records == 0


def test_a_manifest_whose_data_hash_is_wrong(log: Log) -> None:
    members = log.pack(PICKED)
    stated = parse_manifest_body(verify_note(members[MANIFEST], log.verifier_key))
    wrong = dataclasses.replace(stated, data_sha256=hashlib.sha256(b"other").hexdigest())
    members[MANIFEST] = log.sign(manifest_body(wrong))
    report = verified(members, log.verifier_key)
    assert named(report) == set()
    assert mismatched(report) == {"data_sha256"}


def test_a_manifest_of_another_checkpoint(log: Log) -> None:
    members = log.pack(PICKED)
    members[MANIFEST] = new_log(SIZE + 1).pack(PICKED)[MANIFEST]
    assert named(verified(members, log.verifier_key)) == {(Kind.BAD_SIGNATURE, None)}
    stated = parse_manifest_body(verify_note(log.pack(PICKED)[MANIFEST], log.verifier_key))
    members[MANIFEST] = log.sign(manifest_body(dataclasses.replace(stated, tree_size=SIZE + 1)))
    assert mismatched(verified(members, log.verifier_key)) == {"tree_size"}


def test_a_range_pack_missing_a_record_in_the_middle(log: Log) -> None:
    members = log.pack(list(range(10, 20)), (10, 20))
    lines = record_lines(members)
    report = verified(with_records(members, lines[:4] + lines[5:]), log.verifier_key)
    assert named(report) == {(Kind.MISSING, 14)}


def test_a_range_pack_with_a_record_more_or_changed(log: Log) -> None:
    members = log.pack(list(range(10, 20)), (10, 20))
    lines = record_lines(members)
    report = verified(with_records(members, [*lines, log.lines[20]]), log.verifier_key)
    assert named(report) == {(Kind.EXTRA, 20)}
    lines[3] = lines[3].replace(b"paid", b"pain")
    report = verified(with_records(members, lines), log.verifier_key)
    # The range's leaf hashes, proven by the root, name the record that no longer fits.
    assert named(report) == {(Kind.CHANGED, 13)}


def test_a_range_proof_that_does_not_fit(log: Log) -> None:
    members = log.pack(list(range(10, 20)), (10, 20))
    proof = orjson.loads(members[RANGE_PROOF])
    proof["hashes"] = proof["hashes"][:-1]
    report = verified({**members, RANGE_PROOF: orjson.dumps(proof)}, log.verifier_key)
    assert named(report) == {(Kind.ROOT_MISMATCH, None)}
    assert "fewer hashes" in report.problems[0].message


def test_a_wrong_key_verifies_nothing(log: Log) -> None:
    other = new_log(SIZE)
    report = verified(log.pack(PICKED), other.verifier_key)
    assert [(p.kind, p.seq) for p in report.problems] == [(Kind.BAD_SIGNATURE, None)] * 2
    assert report.verifier_key == other.verifier_key and not report.own_key


def test_a_pack_re_signed_by_another_key_fails_with_the_logs_key(log: Log) -> None:
    forger = Log(SIZE, Ed25519PrivateKey.generate())
    forged = forger.pack(PICKED)
    assert verified(forged).ok  # its own key vouches for it: that proves nothing
    report = verified(forged, log.verifier_key)
    assert {p.kind for p in report.problems} == {Kind.BAD_SIGNATURE}


@pytest.mark.parametrize(
    ("name", "content", "error"),
    [
        (RECORDS, None, f"the pack has no {RECORDS}"),
        (PROOFS, None, f"either {PROOFS} or {RANGE_PROOF}"),
        (VERIFIER_KEY, None, f"the pack has no {VERIFIER_KEY}"),
        (VERIFIER_KEY, b"nope", f"{VERIFIER_KEY}: a verifier key"),
        (PROOFS, b"{\n", f"{PROOFS} line 1 is not JSON"),
        (PROOFS, b'{"seq": 0, "leaf_hash": 5}\n', f"{PROOFS} line 1: inclusion_path is not"),
        (PROOFS, b'{"seq": 0, "leaf_hash": "x", "inclusion_path": []}\n', "canonical base64"),
    ],
)
def test_a_pack_that_cannot_be_read_says_why(
    log: Log, name: str, content: bytes | None, error: str
) -> None:
    members = log.pack(PICKED)
    if content is None:
        del members[name]
    else:
        members[name] = content
    with pytest.raises(VerificationError, match=error):
        verified(members)


def test_a_file_that_is_no_zip_is_refused() -> None:
    with pytest.raises(VerificationError, match="not an evidence pack"):
        verify_pack(io.BytesIO(b"records"))


def test_a_corrupt_member_is_refused(log: Log) -> None:
    archive = zipped(log.pack(PICKED))
    with zipfile.ZipFile(archive) as pack:
        member = pack.getinfo(RECORDS)
    # The local header: 30 bytes, the name and the extra field, then the compressed data.
    middle = member.header_offset + 30 + len(RECORDS) + len(member.extra)
    middle += member.compress_size // 2
    corrupt = bytearray(archive.getvalue())
    corrupt[middle : middle + 8] = bytes(b ^ 0xFF for b in corrupt[middle : middle + 8])
    with pytest.raises(VerificationError, match=f"{RECORDS} cannot be read"):
        verify_pack(io.BytesIO(bytes(corrupt)))


# The command line.


def write_pack(directory: Path, members: dict[str, bytes]) -> Path:
    path = directory / "pack.zip"
    path.write_bytes(zipped(members).getvalue())
    return path


def run_verify(*arguments: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli.app, ["verify", *arguments])
    return result.exit_code, result.stdout, result.stderr


def test_the_command_verifies_a_pack_with_the_published_key(log: Log, tmp_path: Path) -> None:
    key_file = tmp_path / "key.txt"
    key_file.write_text(f"{log.verifier_key}\n")
    pack = write_pack(tmp_path, log.pack(PICKED))
    code, out, err = run_verify("--pack", str(pack), "--key", str(key_file))
    assert code == 0, err
    key_id = "+".join(log.verifier_key.split("+")[:2])
    assert f"checked {len(PICKED)} records" in out
    assert f"signed checkpoint of size {SIZE}, with key {key_id}" in out
    assert "trusting" not in err


def test_the_command_says_when_it_trusts_the_packs_own_key(log: Log, tmp_path: Path) -> None:
    code, _, err = run_verify("--pack", str(write_pack(tmp_path, log.pack(PICKED))))
    assert code == 0
    assert f"trusting the pack's own key: compare {log.verifier_key} with the one" in err


def test_the_command_names_each_problem_and_exits_1(log: Log, tmp_path: Path) -> None:
    members = log.pack(PICKED)
    lines = record_lines(members)
    lines[6] = lines[6].replace(b"paid", b"pain")
    code, _, err = run_verify("--pack", str(write_pack(tmp_path, with_records(members, lines))))
    assert code == 1
    assert f"FAILED at seq {PICKED[6]}: changed content: " in err
    assert "FAILED at the pack: manifest mismatch: manifest.txt states data_sha256" in err


def test_the_command_exits_2_on_what_is_no_pack(tmp_path: Path) -> None:
    path = tmp_path / "pack.zip"
    path.write_bytes(b"not a zip")
    code, _, err = run_verify("--pack", str(path))
    assert code == 2
    assert "cannot check" in err and "not an evidence pack" in err
    code, _, err = run_verify("--pack", str(tmp_path / "absent.zip"))
    assert code == 2 and "No such file" in err


@pytest.mark.parametrize(
    "other", [["--url", "http://x"], ["--entries", "e.ndjson"], ["--rollups"], ["--database", "x"]]
)
def test_a_pack_is_checked_alone(tmp_path: Path, other: list[str]) -> None:
    code, _, err = run_verify("--pack", str(tmp_path / "pack.zip"), *other)
    assert code == 2
    assert "--pack and --export are checked alone" in err
