// audittrail viewer: the record page's integrity panel. Checks in the browser, with WebCrypto
// alone, that the record on screen is in the log the server signed, one link at a time:
//   1. leaf hash:   SHA-256(0x00 || the record's leaf bytes) is the proof's leaf hash;
//   2. inclusion:   the proof's path leads from that leaf to the proof's root (RFC 9162 2.1.3.2);
//   3. checkpoint:  a checkpoint of the proof's tree size states that root;
//   4. signature:   every checkpoint note fetched is for the log the key is named after, and the
//                   log's key (its id checked) signed it (Ed25519).
// A link fails (red) on anything that does not hold, a malformed proof included; only what the
// browser cannot check, the page may not show, or the server did not answer leaves it unverified.
// A port of integrity/verify.py (verify_inclusion, verify_note, parse_checkpoint_body,
// parse_verifier_key); the formats are C2SP tlog-checkpoint and signed-note.
"use strict";

(() => {
  const API = "/api/audit-trail";
  const encoder = new TextEncoder();
  const HASH_SIZE = 32;
  const KEY_ID_SIZE = 4;
  const ED25519_SIGNATURE_SIZE = 64;
  const ED25519_KEY_TYPE = 0x01;
  const SIGNATURE_LINE_PREFIX = "\u2014 ";
  // The proof's checkpoint is the latest, or one of the newest by now: its time is looked for
  // among these only.
  const CHECKPOINTS_LOOKED_AT = 20;
  const MAX_WAITS = 60;
  const UINT64_LIMIT = 2 ** 64;

  class VerifyError extends Error {}  // a link of the chain that does not hold
  class Unsupported extends Error {}  // what this browser cannot check
  class Skipped extends Error {}  // what the page cannot check for this reader
  class Unavailable extends Error {}  // what the server did not answer

  // ---- bytes ----
  function fromBase64(text, what) {
    if (typeof text !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4) {
      throw new VerifyError(`${what} is not valid base64`);
    }
    const bytes = Uint8Array.from(atob(text), (char) => char.charCodeAt(0));
    if (toBase64(bytes) !== text) throw new VerifyError(`${what} is not canonical base64`);
    return bytes;
  }
  function toBase64(bytes) {
    let binary = "";
    for (const byte of bytes) binary += String.fromCharCode(byte);
    return btoa(binary);
  }
  function hex(bytes) { return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join(""); }
  function equal(a, b) { return a.length === b.length && a.every((byte, i) => byte === b[i]); }
  function concat(...parts) {
    const joined = new Uint8Array(parts.reduce((size, part) => size + part.length, 0));
    let offset = 0;
    for (const part of parts) { joined.set(part, offset); offset += part.length; }
    return joined;
  }
  function treeHash(text, what) {
    const digest = fromBase64(text, what);
    if (digest.length !== HASH_SIZE) throw new VerifyError(`${what} has ${digest.length} bytes, not ${HASH_SIZE}`);
    return digest;
  }

  // ---- the proof's fields: as the server's JSON says them, checked before they are used ----
  function uint64(value, what) {
    if (!Number.isInteger(value) || value < 0 || value >= UINT64_LIMIT) {
      throw new VerifyError(`${what} is not an integer from 0 to 2^64-1: ${JSON.stringify(value)}`);
    }
    return BigInt(value);
  }
  // The leaf's index and the tree's size, the index inside the tree.
  function placeOf(proof) {
    const index = uint64(proof.leaf_index, "the proof's leaf index");
    const size = uint64(proof.tree_size, "the proof's tree size");
    if (index >= size) throw new VerifyError(`the proof's leaf index ${index} is not inside its tree of size ${size}`);
    return { index, size };
  }
  function pathOf(proof) {
    if (!Array.isArray(proof.inclusion_path)) {
      throw new VerifyError(`the proof's inclusion path is not a list of hashes: ${JSON.stringify(proof.inclusion_path)}`);
    }
    return proof.inclusion_path.map((hash, i) => treeHash(hash, `path hash ${i}`));
  }

  // ---- RFC 6962 hashing ----
  async function sha256(...parts) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", concat(...parts)));
  }
  const leafHash = (leaf) => sha256(Uint8Array.of(0), leaf);
  const nodeHash = (left, right) => sha256(Uint8Array.of(1), left, right);

  // The root a leaf's inclusion path leads to (RFC 9162 2.1.3.2). BigInt: tree sizes are uint64.
  async function rootFromPath(leafIndex, treeSize, leaf, path) {
    let fn = BigInt(leafIndex);
    let sn = BigInt(treeSize) - 1n;
    if (fn < 0n || fn > sn) throw new VerifyError(`leaf index ${leafIndex} is outside a tree of size ${treeSize}`);
    let digest = leaf;
    for (const sibling of path) {
      if (sn === 0n) throw new VerifyError("the path has more hashes than lead to the root");
      if (fn & 1n || fn === sn) {
        digest = await nodeHash(sibling, digest);
        while (fn !== 0n && !(fn & 1n)) { fn >>= 1n; sn >>= 1n; }
      } else {
        digest = await nodeHash(digest, sibling);
      }
      fn >>= 1n; sn >>= 1n;
    }
    if (sn !== 0n) throw new VerifyError("the path has fewer hashes than lead to the root");
    return digest;
  }

  // ---- signed notes (C2SP signed-note, tlog-checkpoint) ----
  function checkKeyName(name) {
    if (!name || /[\s+]/u.test(name) || /[\x00-\x1f]/.test(name)) throw new VerifyError(`not a key name: ${JSON.stringify(name)}`);
  }

  async function keyId(name, publicKey) {
    const material = concat(encoder.encode(name), Uint8Array.of(0x0a, ED25519_KEY_TYPE), publicKey);
    return (await sha256(material)).slice(0, KEY_ID_SIZE);
  }

  // <name>+<key id hex>+<base64(0x01 || Ed25519 public key)>; its id must be its name's and key's.
  async function parseVerifierKey(text) {
    const [name, idHex, ...rest] = text.trim().split("+");
    const encoded = rest.join("+");  // base64 may hold "+" too
    if (!rest.length) throw new VerifyError("a verifier key is <name>+<key id>+<key>");
    checkKeyName(name);
    if (!/^[0-9a-f]{8}$/.test(idHex)) throw new VerifyError("the verifier key's id is not 8 hex digits");
    const material = fromBase64(encoded, "the verifier key");
    if (material.length !== 33 || material[0] !== ED25519_KEY_TYPE) throw new VerifyError("the verifier key is not an Ed25519 key");
    const publicKey = material.slice(1);
    if (hex(await keyId(name, publicKey)) !== idHex) throw new VerifyError("the verifier key's id is not the hash of its name and key");
    return { name, idHex, publicKey };
  }

  // Body and signatures: the last blank line separates them.
  function splitNote(note) {
    if (typeof note !== "string" || !note.endsWith("\n")) throw new VerifyError("the note does not end with a newline");
    if (/[\x00-\x09\x0b-\x1f]/.test(note)) throw new VerifyError("the note holds a control character");
    const separator = note.lastIndexOf("\n\n");
    if (separator < 0) throw new VerifyError("the note has no blank line before its signatures");
    const lines = note.slice(separator + 2).split("\n").slice(0, -1);
    if (!lines.length) throw new VerifyError("the note has no signature");
    const signatures = lines.map((line) => {
      if (!line.startsWith(SIGNATURE_LINE_PREFIX)) throw new VerifyError("the note has a line that is not a signature");
      const rest = line.slice(SIGNATURE_LINE_PREFIX.length);
      const space = rest.indexOf(" ");
      if (space < 0) throw new VerifyError("a signature line lacks its signature");
      const bytes = fromBase64(rest.slice(space + 1), "a signature");
      if (bytes.length <= KEY_ID_SIZE) throw new VerifyError("a signature is too short");
      return { name: rest.slice(0, space), keyId: bytes.slice(0, KEY_ID_SIZE), signature: bytes.slice(KEY_ID_SIZE) };
    });
    return { body: note.slice(0, separator + 1), signatures };
  }

  function parseCheckpoint(body) {
    const lines = body.split("\n");
    if (lines.pop() !== "") throw new VerifyError("the checkpoint does not end with a newline");
    if (lines.length < 3 || lines.some((line) => !line)) throw new VerifyError("the checkpoint lacks its origin, size or root");
    const [origin, size, root] = lines;
    if (!/^(0|[1-9][0-9]{0,19})$/.test(size)) throw new VerifyError("the checkpoint's size is not a number");
    return { origin, size: BigInt(size), root: treeHash(root, "the checkpoint's root") };
  }

  // Every signature by the key must verify, and there must be one.
  async function verifyNote(note, key) {
    const { body, signatures } = splitNote(note);
    const ours = signatures.filter((s) => s.name === key.name && hex(s.keyId) === key.idHex);
    if (!ours.length) throw new VerifyError(`the checkpoint carries no signature by key ${key.name} (${key.idHex})`);
    let publicKey;
    try {
      publicKey = await crypto.subtle.importKey("raw", key.publicKey, { name: "Ed25519" }, false, ["verify"]);
    } catch (failure) {
      throw new Unsupported(`this browser's WebCrypto cannot check Ed25519 signatures (${failure.name})`);
    }
    for (const { signature } of ours) {
      const valid = signature.length === ED25519_SIGNATURE_SIZE
        && await crypto.subtle.verify({ name: "Ed25519" }, publicKey, signature, encoder.encode(body));
      if (!valid) throw new VerifyError(`the checkpoint's signature by key ${key.name} (${key.idHex}) does not verify`);
    }
    return body;
  }

  // A checkpoint note for the log the key is named after (its origin, as log/signer.py names
  // the key), signed by the key: integrity/verify.verify_checkpoint with origin=key name.
  async function verifyCheckpoint(note, key) {
    const { origin } = parseCheckpoint(splitNote(note).body);
    if (origin !== key.name) {
      throw new VerifyError(`a checkpoint is signed for another log: its origin is ${JSON.stringify(origin)}, not ${JSON.stringify(key.name)}`);
    }
    return verifyNote(note, key);
  }

  // ---- fetching ----
  // The response, if the server answered it or one of the statuses `expected`.
  async function fetched(url, accept, expected = []) {
    let response;
    try {
      response = await fetch(url, { credentials: "same-origin", headers: { Accept: accept } });
    } catch (failure) {
      throw new Unavailable(`the server could not be reached (${failure.message})`);
    }
    if (!response.ok && !expected.includes(response.status)) {
      const error = await window.audittrail.apiError(response);
      throw new Unavailable(`${url} answered ${response.status}: ${error.message}`);
    }
    return response;
  }

  const sleep = (seconds) => new Promise((resolve) => { window.setTimeout(resolve, seconds * 1000); });

  // The proof against the latest checkpoint; until a checkpoint covers the record, a 409 with
  // Retry-After: wait and ask again.
  async function proofOf(recordId, waiting) {
    const url = `${API}/records/${encodeURIComponent(recordId)}/proof`;
    for (let wait = 0; wait < MAX_WAITS; wait += 1) {
      const response = await fetched(url, "application/json", [409]);
      if (response.status !== 409) return proofFrom(response);
      const seconds = Math.min(Math.max(Number(response.headers.get("Retry-After")) || 2, 1), 30);
      waiting(seconds);
      await sleep(seconds);
    }
    throw new Unavailable("no checkpoint covers this record yet; reload the page later");
  }

  async function proofFrom(response) {
    let proof;
    try {
      proof = await response.json();
    } catch (_) {
      throw new VerifyError("the server's proof is not JSON");
    }
    if (typeof proof !== "object" || proof === null || Array.isArray(proof)) throw new VerifyError("the server's proof is not a JSON object");
    return proof;
  }

  // When the checkpoint of this size was signed, as the server recorded it (a note carries no
  // time); null if not found: the time is told, not verified.
  async function signedAt(treeSize) {
    try {
      const response = await fetched(`${API}/log/checkpoints?page_size=${CHECKPOINTS_LOOKED_AT}`, "application/json");
      const found = (await response.json()).checkpoints.find((c) => c.tree_size === treeSize);
      return found ? found.created_at : null;
    } catch (_) {
      return null;
    }
  }

  // ---- the checks ----
  const OUTCOMES = [[Unsupported, "unchecked"], [Skipped, "skipped"]];
  // What a failure says: a VerifyError its message, anything else (a proof shaped in a way no
  // check foresaw) its kind too.
  const problem = (failure) => (failure instanceof VerifyError ? failure.message : `${failure.name}: ${failure.message}`);
  // Each link of the chain on its own, so that a failure names the link that broke. What the
  // server did not answer leaves the record unverified; anything else unforeseen fails the link.
  async function check(name, results, run) {
    try {
      results[name] = { outcome: "passed", text: await run() };
    } catch (failure) {
      if (failure instanceof Unavailable) throw failure;
      const outcome = OUTCOMES.find(([kind]) => failure instanceof kind);
      results[name] = { outcome: outcome ? outcome[1] : "failed", text: problem(failure) };
    }
  }

  async function verify(panel, proof, keyText, latestNote) {
    const results = {};
    const seq = BigInt(panel.dataset.seq);
    const leafBytes = panel.dataset.leaf ? fromBase64(panel.dataset.leaf, "the page's leaf") : null;
    let leaf = null;
    await check("leaf", results, async () => {
      const index = uint64(proof.leaf_index, "the proof's leaf index");
      if (index !== seq) throw new VerifyError(`the proof is for leaf ${index}, this record is seq ${seq}`);
      const served = treeHash(proof.leaf_hash, "the proof's leaf hash");
      if (!leafBytes) {
        leaf = served;
        throw new Skipped("not re-hashed here: the record holds values you see masked, so its leaf cannot be rebuilt in this page; the proof's leaf hash is used");
      }
      leaf = await leafHash(leafBytes);
      if (!equal(leaf, served)) throw new VerifyError("the proof's leaf hash is not the hash of this record's leaf");
      return "this record's leaf hashes to the proof's leaf hash";
    });
    await check("inclusion", results, async () => {
      const { index, size } = placeOf(proof);
      const path = pathOf(proof);
      const root = await rootFromPath(index, size, leaf || treeHash(proof.leaf_hash, "the proof's leaf hash"), path);
      if (!equal(root, treeHash(proof.root_hash, "the proof's root"))) throw new VerifyError("the path does not lead to the proof's root");
      return `${path.length} hashes lead from the leaf to the root of ${size.toLocaleString("en-US")} records`;
    });
    const notes = [...new Set([proof.checkpoint, latestNote].filter(Boolean))];
    await check("checkpoint", results, async () => {
      const size = uint64(proof.tree_size, "the proof's tree size");
      const atSize = notes.map((note) => parseCheckpoint(splitNote(note).body)).filter((c) => c.size === size);
      if (!atSize.length) throw new VerifyError(`no checkpoint of size ${size} was served`);
      const root = treeHash(proof.root_hash, "the proof's root");
      if (!atSize.every((c) => equal(c.root, root))) throw new VerifyError(`the checkpoint of size ${size} states another root`);
      return `the checkpoint of size ${size.toLocaleString("en-US")} states this root`;
    });
    let key = null;
    await check("signature", results, async () => {
      key = await parseVerifierKey(keyText);
      for (const note of notes) await verifyCheckpoint(note, key);
      return `signed for log ${key.name} by its key (${key.idHex})`;
    });
    return { results, key };
  }

  // ---- the panel ----
  const OUTCOME_MARKS = { passed: "\u2713 passed", failed: "\u2717 failed", unchecked: "not checked", skipped: "\u2013 skipped" };

  function show(panel, state, message) {
    const status = panel.querySelector("[data-verify-status]");
    status.className = `status-${state}`;
    status.replaceChildren(...message);
    window.audittrail.localiseTimes(status);
  }

  function showChecks(panel, results) {
    for (const [name, { outcome, text }] of Object.entries(results)) {
      const item = panel.querySelector(`[data-check="${name}"]`);
      item.dataset.outcome = outcome;
      item.querySelector("[data-check-result]").textContent = `${OUTCOME_MARKS[outcome]}: ${text}`;
    }
  }

  function showProof(panel, proof, keyText, note) {
    const values = { leaf_hash: proof.leaf_hash, tree_size: String(proof.tree_size), root_hash: proof.root_hash, key: keyText.trim(), note };
    for (const [name, value] of Object.entries(values)) panel.querySelector(`[data-proof="${name}"]`).textContent = value;
    panel.querySelector("[data-verify-proof]").hidden = false;
  }

  function timeElement(moment) {
    const element = document.createElement("time");
    element.setAttribute("datetime", moment);
    element.textContent = moment;
    return element;
  }

  async function run(panel) {
    if (!window.isSecureContext || !window.crypto || !window.crypto.subtle) {
      show(panel, "pending", ["Not verified: browsers give pages the cryptography to check the log (WebCrypto) only over https or on localhost. Open this page over https to verify it here."]);
      return;
    }
    try {
      const proof = await proofOf(panel.dataset.recordId, (seconds) => {
        show(panel, "pending", [`Waiting for a signed checkpoint that covers this record: the log signs one every few seconds. Asking again in ${seconds} s…`]);
      });
      show(panel, "pending", ["Verifying the proof in your browser…"]);
      const [keyText, latestNote, signed] = await Promise.all([
        fetched(`${API}/log/key`, "text/plain").then((r) => r.text()),
        fetched(`${API}/log/checkpoint`, "text/plain").then((r) => r.text()),
        signedAt(proof.tree_size),
      ]);
      const { results, key } = await verify(panel, proof, keyText, latestNote);
      showChecks(panel, results);
      showProof(panel, proof, keyText, proof.checkpoint || latestNote);
      const outcomes = Object.entries(results);
      const failed = outcomes.filter(([, result]) => result.outcome === "failed");
      if (failed.length) {
        const label = (name) => panel.querySelector(`[data-check="${name}"] .check-name`).textContent;
        show(panel, "bad", [`\u2717 Verification failed: this record is not shown to be in the signed log. ${failed.map(([name, result]) => `${label(name)}: ${result.text}.`).join(" ")}`]);
        return;
      }
      const unchecked = outcomes.find(([, result]) => result.outcome === "unchecked");
      if (unchecked) {
        show(panel, "pending", [`Not fully verified: ${unchecked[1].text}.`]);
        return;
      }
      const place = `In the log as record ${(proof.leaf_index + 1).toLocaleString("en-US")} of ${proof.tree_size.toLocaleString("en-US")}, checkpoint signed `;
      const when = signed ? ["at ", timeElement(signed), " "] : [];
      const masked = results.leaf.outcome === "skipped"
        ? [" This record holds values you see masked: its leaf was not re-hashed here, the proof's leaf hash was used."]
        : [];
      show(panel, "ok", ["\u2713 Verified. ", place, ...when, `by key ${key.name} (${key.idHex}).`, ...masked]);
    } catch (failure) {
      if (failure instanceof Unavailable) {
        show(panel, "pending", [`Not verified: ${failure.message}.`]);
      } else {
        show(panel, "bad", [`\u2717 Verification failed: this record is not shown to be in the signed log. ${problem(failure)}.`]);
      }
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const panel of document.querySelectorAll("[data-verify]")) run(panel);
  });

  // For other pages that verify records, and for the tests (which hold it to integrity/verify.py).
  window.audittrail.verify = { fromBase64, leafHash, rootFromPath, parseVerifierKey, verifyNote, verifyCheckpoint, parseCheckpoint, splitNote, VerifyError };
})();
