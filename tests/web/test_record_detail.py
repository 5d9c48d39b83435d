"""The record detail page: every field, params by their definitions, the diff of a change, and
the integrity panel that verifies the record in the browser (and turns red on a doctored proof)."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from playwright.sync_api import Browser, Page, Route, expect

from audittrail.integrity import checkpoint, verify
from tests.helpers import APPLICATIONS, RECORDS
from tests.integrity.reference import LEAVES, mth, path
from tests.web.conftest import TIMEOUT_MS
from tests.web.support import (
    PEOPLE_PASSWORD,
    READER_EMAIL,
    Site,
    check_accessible,
    screenshots,
    sign_in,
)

STATUS = "[data-verify-status]"
# Verification waits for a checkpoint to cover the record: one is signed every 0.2 s here.
VERIFIED_MS = 15_000


def billing_record(site: Site) -> dict[str, Any]:
    """A seeded record with every field set, a sensitive param among its params."""
    return next(r for r in site.records if r["application_key"] == "billing" and r["ip_address"])


def flipped(encoded: str, position: int = 0) -> str:
    """Base64 of the same bytes with one bit of one byte flipped."""
    raw = bytearray(base64.b64decode(encoded))
    raw[position] ^= 0x01
    return base64.b64encode(bytes(raw)).decode("ascii")


def forged_signature(note: str) -> str:
    """The note with one bit of its signature flipped (the key id left as it was)."""
    body, _, signature_line = note.rstrip("\n").rpartition("\n")
    prefix, _, encoded = signature_line.rpartition(" ")
    return f"{body}\n{prefix} {flipped(encoded, position=10)}\n"


def tamper_proof(page: Page, change: Callable[[dict[str, Any]], None]) -> None:
    """Serve the page the real proof, changed."""

    def doctor(route: Route) -> None:
        response = route.fetch()
        if response.status != 200:
            route.fulfill(response=response)
            return
        proof = response.json()
        change(proof)
        route.fulfill(response=response, json=proof)

    page.route("**/proof*", doctor)


def verified_status(page: Page) -> Any:
    status = page.locator(STATUS)
    expect(status).to_have_class("status-ok", timeout=VERIFIED_MS)
    return status


@pytest.fixture
def reader(browser: Browser, site: Site) -> Iterator[Page]:
    """A page signed in as a reader, in a browser context of its own."""
    context = browser.new_context(base_url=site.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    sign_in(context, site, READER_EMAIL, PEOPLE_PASSWORD)
    yield context.new_page()
    context.close()


def test_the_record_page_shows_every_field_and_verifies_the_record(admin: Page, site: Site) -> None:
    record = billing_record(site)
    with admin.expect_response(lambda r: r.url.endswith("/proof") and r.status == 200) as served:
        admin.goto(f"/records/{record['id']}")
        status = verified_status(admin)
    proof = served.value.json()
    expect(admin.locator("h1")).to_have_text(record["summary"])
    for shown in (
        record["id"],
        record["event_type"],
        record["category"],
        record["entity_type"],
        record["entity_id"],
        record["actor"],
        record["ip_address"],
        "manual",
        "Billing",
        f"{proof['leaf_index']}",
    ):
        expect(admin.locator("main .cards")).to_contain_text(shown)
    expect(admin.locator(".record-head .badge")).to_have_text(record["severity"])
    expect(admin.locator(".record-head .chip")).to_have_text("billing")
    params = admin.locator("table.params")
    amount = params.locator("tr[data-param='amount']")
    expect(amount.locator("th")).to_contain_text("Amount")
    expect(amount.locator("td").first).to_have_text("number")
    expect(amount.locator("td").last).to_have_text(json.dumps(record["params"]["amount"]))
    expect(params.locator("tr[data-param='currency'] td").last).to_have_text("EUR")
    card = params.locator("tr[data-param='card_last4']")
    expect(card.locator("th")).to_contain_text("Card (last 4)")
    expect(card.locator("th")).to_contain_text("sensitive")
    expect(card.locator("td").last).to_have_text("4242")
    metadata = admin.get_by_role("region", name="Metadata").locator("pre")
    assert json.loads(metadata.inner_text()) == record["metadata"]
    # "record N of M": N counts from one, M is the tree size of the proof the page verified.
    expect(status).to_contain_text(
        f"In the log as record {proof['leaf_index'] + 1:,} of {proof['tree_size']:,}"
    )
    expect(status).to_contain_text("checkpoint signed at")
    key = site.api().get("/api/audit-trail/log/key").text.strip()
    expect(status).to_contain_text(f"by key {key.split('+')[0]} ({key.split('+')[1]})")
    for check in admin.locator("[data-check]").all():
        expect(check).to_have_attribute("data-outcome", "passed")
    check_accessible(admin)
    screenshots(admin, site, "record")
    admin.get_by_role("link", name="Every record of this entity").click()
    expect(admin.locator("#entity_id")).to_have_value(record["entity_id"])
    expect(admin.locator("table.records tbody tr").first).to_contain_text(record["entity_id"])


def test_a_reader_sees_sensitive_params_masked_and_the_record_verified(
    reader: Page, site: Site
) -> None:
    record = billing_record(site)
    reader.goto(f"/records/{record['id']}")
    card = reader.locator("table.params tr[data-param='card_last4']")
    expect(card.locator("th")).to_contain_text("Card (last 4)")
    expect(card.locator("td").last).to_contain_text("[masked]")
    expect(reader.locator("main")).not_to_contain_text("4242")
    # The leaf holds the real value: neither shown nor re-hashed; the proof's leaf hash is used.
    expect(reader.locator("details.leaf")).to_have_count(0)
    status = verified_status(reader)
    expect(status).to_contain_text("its leaf was not re-hashed here")
    expect(reader.locator("[data-check='leaf']")).to_have_attribute("data-outcome", "skipped")
    expect(reader.locator("[data-check='signature']")).to_have_attribute("data-outcome", "passed")
    check_accessible(reader)


def test_a_system_record_shows_its_change_field_by_field(admin: Page, site: Site) -> None:
    key = f"diff_{uuid.uuid4().hex[:8]}"
    with site.api() as api:
        created = api.post(APPLICATIONS, json={"key": key, "name": "Before name"})
        assert created.status_code == 201, created.text
        application = created.json()
        changed = api.patch(f"{APPLICATIONS}/{application['id']}", json={"name": "After name"})
        assert changed.status_code == 200, changed.text
        found = api.get(
            RECORDS,
            params={"event_types": "application.updated", "entity_id": application["id"]},
        ).json()["records"]
    [updated] = found
    admin.goto(f"/records/{updated['id']}")
    row = admin.locator("table.diff tr[data-change='name']")
    expect(row.locator("td").nth(0)).to_have_text("changed")
    expect(row.locator("td del")).to_have_text("Before name")
    expect(row.locator("td ins")).to_have_text("After name")
    expect(admin.locator("table.diff tbody tr")).to_have_count(1)  # only what changed
    expect(admin.locator("[data-verify-status]")).not_to_have_class("status-bad")
    expect(admin.get_by_role("region", name="Who and from where")).to_contain_text("system")
    verified_status(admin)
    check_accessible(admin)
    screenshots(admin, site, "record-diff")


def test_a_manual_record_s_param_shaped_as_a_change_is_a_param(admin: Page, site: Site) -> None:
    """Only the service's own records hold changes: a sender's {"old", "new"} is its param."""
    record = site.post_record(
        summary=f"Shaped {uuid.uuid4()}", params={"limit": {"old": 1, "new": 2}}
    )
    admin.goto(f"/records/{record['id']}")
    row = admin.locator("table.params tr[data-param='limit']")
    expect(row.locator("td").last).to_have_text('{"new": 2, "old": 1}')
    expect(admin.locator("table.diff")).to_have_count(0)
    verified_status(admin)


def test_a_new_application_s_record_shows_its_fields_added(admin: Page, site: Site) -> None:
    key = f"added_{uuid.uuid4().hex[:8]}"
    with site.api() as api:
        application = api.post(APPLICATIONS, json={"key": key, "name": "Added"}).json()
        [record] = api.get(
            RECORDS,
            params={"event_types": "application.created", "entity_id": application["id"]},
        ).json()["records"]
    admin.goto(f"/records/{record['id']}")
    row = admin.locator("table.diff tr[data-change='key']")
    expect(row.locator("td").nth(0)).to_have_text("added")
    expect(row.locator("td").nth(1)).to_have_text("none")
    expect(row.locator("td ins")).to_have_text(key)


def _flip_leaf_hash(proof: dict[str, Any]) -> None:
    proof["leaf_hash"] = flipped(proof["leaf_hash"])


def _flip_path_hash(proof: dict[str, Any]) -> None:
    proof["inclusion_path"][-1] = flipped(proof["inclusion_path"][-1], position=31)


def _flip_root_hash(proof: dict[str, Any]) -> None:
    proof["root_hash"] = flipped(proof["root_hash"])


def _forge_checkpoint_signature(proof: dict[str, Any]) -> None:
    proof["checkpoint"] = forged_signature(proof["checkpoint"])


@pytest.mark.parametrize(
    ("tamper", "failed"),
    [
        (_flip_leaf_hash, ["leaf"]),
        (_flip_path_hash, ["inclusion"]),
        (_flip_root_hash, ["inclusion", "checkpoint"]),
        (_forge_checkpoint_signature, ["signature"]),
    ],
    ids=["leaf hash", "path hash", "root hash", "checkpoint signature"],
)
def test_a_tampered_proof_turns_the_panel_red_naming_the_broken_link(
    admin: Page, site: Site, tamper: Callable[[dict[str, Any]], None], failed: list[str]
) -> None:
    tamper_proof(admin, tamper)
    admin.goto(f"/records/{billing_record(site)['id']}")
    status = admin.locator(STATUS)
    expect(status).to_have_class("status-bad", timeout=VERIFIED_MS)
    expect(status).to_contain_text("Verification failed")
    for check in admin.locator("[data-check]").all():
        name = check.get_attribute("data-check")
        expect(check).to_have_attribute("data-outcome", "failed" if name in failed else "passed")
        if name in failed:
            expect(status).to_contain_text(check.locator(".check-name").inner_text())
    if tamper is _flip_path_hash:
        check_accessible(admin)
        screenshots(admin, site, "record-tampered")


def _another_seq(proof: dict[str, Any]) -> None:
    index = proof["leaf_index"]
    proof["leaf_index"] = index - 1 if index else 1


def _another_origin(proof: dict[str, Any]) -> None:
    _, _, rest = proof["checkpoint"].partition("\n")
    proof["checkpoint"] = f"another.example/log\n{rest}"


def _set(field: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda proof: proof.update({field: value})


@pytest.mark.parametrize(
    ("tamper", "failed", "problem"),
    [
        (
            _set("leaf_index", "x"),
            "leaf",
            'the proof\'s leaf index is not an integer from 0 to 2^64-1: "x"',
        ),
        (_set("leaf_index", 1.5), "inclusion", "the proof's leaf index is not an integer"),
        (
            _set("inclusion_path", None),
            "inclusion",
            "the proof's inclusion path is not a list of hashes: null",
        ),
        (_set("inclusion_path", [7]), "inclusion", "path hash 0 is not valid base64"),
        (_set("tree_size", "many"), "checkpoint", "the proof's tree size is not an integer"),
        (_set("tree_size", 2**64), "inclusion", "the proof's tree size is not an integer"),
        (_another_seq, "leaf", "the proof is for leaf"),
        (_another_origin, "signature", "a checkpoint is signed for another log"),
    ],
    ids=[
        "leaf index a string",
        "leaf index a fraction",
        "no inclusion path",
        "path of numbers",
        "tree size a string",
        "tree size past uint64",
        "another seq",
        "another origin",
    ],
)
def test_a_malformed_or_misdirected_proof_turns_the_panel_red(
    admin: Page, site: Site, tamper: Callable[[dict[str, Any]], None], failed: str, problem: str
) -> None:
    """A proof shaped wrong fails the link that reads it, naming what is wrong: not a thrown
    TypeError that would leave the record merely unverified."""
    tamper_proof(admin, tamper)
    admin.goto(f"/records/{billing_record(site)['id']}")
    status = admin.locator(STATUS)
    expect(status).to_have_class("status-bad", timeout=VERIFIED_MS)
    expect(admin.locator(f"[data-check='{failed}']")).to_have_attribute("data-outcome", "failed")
    expect(status).to_contain_text(problem)


def test_a_proof_that_is_not_json_turns_the_panel_red(admin: Page, site: Site) -> None:
    admin.route("**/proof*", lambda route: route.fulfill(status=200, body="not a proof"))
    admin.goto(f"/records/{billing_record(site)['id']}")
    status = admin.locator(STATUS)
    expect(status).to_have_class("status-bad", timeout=VERIFIED_MS)
    expect(status).to_contain_text("the server's proof is not JSON")


def test_a_forged_latest_checkpoint_turns_the_panel_red(admin: Page, site: Site) -> None:
    def forge(route: Route) -> None:
        response = route.fetch()
        route.fulfill(response=response, body=forged_signature(response.text()))

    admin.route("**/log/checkpoint", forge)
    admin.goto(f"/records/{billing_record(site)['id']}")
    status = admin.locator(STATUS)
    expect(status).to_have_class("status-bad", timeout=VERIFIED_MS)
    expect(status).to_contain_text("Checkpoint signature: the checkpoint's signature by key")
    expect(admin.locator("[data-check='inclusion']")).to_have_attribute("data-outcome", "passed")


def test_the_panel_waits_while_no_checkpoint_covers_the_record(admin: Page, site: Site) -> None:
    asked: list[str] = []

    def not_yet_once(route: Route) -> None:
        asked.append(route.request.url)
        if len(asked) == 1:
            body = {"error": {"code": "NOT_YET_CHECKPOINTED", "message": "Not yet."}}
            route.fulfill(status=409, json=body, headers={"Retry-After": "1"})
        else:
            route.continue_()

    admin.route("**/proof*", not_yet_once)
    admin.goto(f"/records/{billing_record(site)['id']}")
    expect(admin.locator(STATUS)).to_contain_text("Waiting for a signed checkpoint")
    verified_status(admin)
    assert len(asked) == 2


def test_a_fresh_record_is_verified_once_a_checkpoint_covers_it(admin: Page, site: Site) -> None:
    record = site.post_record(summary=f"Fresh {uuid.uuid4()}")
    admin.goto(f"/records/{record['id']}")
    verified_status(admin)
    expect(admin.locator("[data-check='leaf']")).to_have_attribute("data-outcome", "passed")


def test_without_a_secure_context_the_panel_says_why_it_cannot_verify(
    admin: Page, site: Site
) -> None:
    admin.add_init_script("Object.defineProperty(window, 'isSecureContext', {value: false})")
    admin.goto(f"/records/{billing_record(site)['id']}")
    status = admin.locator(STATUS)
    expect(status).to_contain_text("only over https or on localhost")
    expect(status).to_have_class("status-pending")


def test_an_unknown_record_is_a_not_found_page(admin: Page) -> None:
    response = admin.goto(f"/records/{uuid.uuid4()}")
    assert response is not None and response.status == 404
    expect(admin.locator("h1")).to_contain_text("No record")


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def test_the_browser_s_inclusion_check_agrees_with_rfc_9162(admin: Page, site: Site) -> None:
    """verify.js's port against the naive RFC 9162 reference, at every index of small trees;
    a path one hash short or one too long is refused."""
    cases = [
        [
            index,
            size,
            _b64(LEAVES[index]),
            [_b64(h) for h in path(index, 0, size)],
            _b64(mth(0, size)),
        ]
        for size in range(1, 70)
        for index in range(size)
    ]
    admin.goto(f"/records/{billing_record(site)['id']}")
    outcomes = admin.evaluate(
        """async (cases) => {
          const v = window.audittrail.verify;
          const root = async (i, n, leaf, path) => {
            const hashes = path.map((h) => v.fromBase64(h));
            try {
              const digest = await v.rootFromPath(i, n, v.fromBase64(leaf), hashes);
              return btoa(String.fromCharCode(...digest));
            } catch (failure) {
              return failure instanceof v.VerifyError ? "refused" : String(failure);
            }
          };
          const outcomes = [];
          for (const [i, n, leaf, path, expected] of cases) {
            outcomes.push([
              (await root(i, n, leaf, path)) === expected,
              !path.length || (await root(i, n, leaf, path.slice(1))) === "refused",
              (await root(i, n, leaf, [...path, leaf])) === "refused",
            ]);
          }
          return outcomes;
        }""",
        cases,
    )
    wrong = [case[:2] for case, outcome in zip(cases, outcomes, strict=True) if not all(outcome)]
    assert wrong == []


def test_the_browser_s_note_check_agrees_with_the_signed_note_format(
    admin: Page, site: Site
) -> None:
    """A note signed by the log's key and a witness's verifies with the log's key; with a
    signature changed, or by another key only, it does not (integrity/verify.verify_note)."""
    log_key, witness_key = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    body = checkpoint.checkpoint_body("example.org/log", 12, bytes(range(32)))
    note = checkpoint.sign_checkpoint(body, "example.org/log", log_key)
    witnessed = checkpoint.sign_checkpoint(body, "witness", witness_key)
    both = note + witnessed.rpartition("\n\n")[2]
    public = checkpoint.public_key_bytes(log_key.public_key())
    key = checkpoint.verifier_key("example.org/log", public)
    admin.goto(f"/records/{billing_record(site)['id']}")
    outcomes = admin.evaluate(
        """async ([notes, keyText]) => {
          const v = window.audittrail.verify;
          const key = await v.parseVerifierKey(keyText);
          const outcomes = [];
          for (const note of notes) {
            try {
              outcomes.push(await v.verifyNote(note, key));
            } catch (failure) {
              outcomes.push(failure instanceof v.VerifyError ? "refused" : String(failure));
            }
          }
          return outcomes;
        }""",
        [[note, both, forged_signature(note), witnessed], key],
    )
    assert outcomes == [body, body, "refused", "refused"]
    assert verify.verify_note(both, key) == body
