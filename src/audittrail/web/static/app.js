// audittrail viewer: the little JavaScript every page shares. No framework, no build.
"use strict";

const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

// Times arrive in UTC (<time datetime>); show them in the viewer's zone.
const timeFormat = new Intl.DateTimeFormat("sv-SE", {  // 2026-12-05 14:03:09: sortable, unambiguous
  year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
});
function localiseTimes(root) {
  for (const element of root.querySelectorAll("time[datetime]")) {
    if (element.dataset.local) continue;
    const moment = new Date(element.getAttribute("datetime"));
    if (Number.isNaN(moment.getTime())) continue;
    element.title = element.textContent;
    element.textContent = timeFormat.format(moment);
    element.dataset.local = "1";
  }
}

// The zone goes with every request (stats and analytics count days in it).
if (!document.cookie.split("; ").includes("tz=" + encodeURIComponent(zone))) {
  document.cookie = "tz=" + encodeURIComponent(zone) + "; path=/; SameSite=Lax; max-age=31536000";
}

async function apiError(response) {
  try {
    const body = await response.json();
    if (body && body.error) return body.error;
  } catch (_) { /* not JSON */ }
  return { code: "HTTP_" + response.status, message: response.statusText || "Request failed." };
}

// A path of this site only: never an open redirect to elsewhere. Resolved as the browser
// would resolve it (it drops tabs and newlines, reads "\\" as "/"), then its origin compared.
function sameSitePath(target, fallback) {
  if (typeof target !== "string" || !target.startsWith("/")) return fallback;
  let url;
  try { url = new URL(target, location.origin); } catch (_) { return fallback; }
  return url.origin === location.origin ? url.pathname + url.search + url.hash : fallback;
}

// ---- Forms that go through the JSON API: <form data-api="/api/..." data-method="POST"> ----
// Values: inputs by name; data-type="number" | "json" | "bool" | "list" (comma-separated);
// checkboxes with data-array gather into a list; empty optional fields are left out.
function formBody(form) {
  const body = {};
  for (const element of form.elements) {
    const name = element.name;
    if (!name || element.disabled || element.dataset.skip !== undefined) continue;
    const type = element.dataset.type;
    if (element.type === "checkbox" && element.dataset.array !== undefined) {
      body[name] = body[name] || [];
      if (element.checked) body[name].push(element.value);
      continue;
    }
    if (element.type === "checkbox") { body[name] = element.checked; continue; }
    if (element.type === "radio") { if (element.checked) body[name] = element.value; continue; }
    const raw = element.value;
    if (raw === "" && element.dataset.keepEmpty === undefined) continue;
    if (type === "number") body[name] = Number(raw);
    else if (type === "bool") body[name] = raw === "true";
    else if (type === "json") {
      try { body[name] = JSON.parse(raw); } catch (_) { body[name] = raw; }
    } else if (type === "list") body[name] = raw.split(",").map((s) => s.trim()).filter(Boolean);
    else if (type === "datetime") body[name] = new Date(raw).toISOString();
    else body[name] = raw;
  }
  return body;
}

function clearErrors(form) {
  for (const element of form.querySelectorAll("[data-field-error]")) element.textContent = "";
  for (const element of form.querySelectorAll("[aria-invalid]")) element.removeAttribute("aria-invalid");
  const general = form.querySelector("[data-form-error]");
  if (general) { general.textContent = ""; general.hidden = true; }
}

// The API's problems next to the fields they name (field "body.name" -> data-field-error="name").
function showErrors(form, error) {
  const unplaced = [];
  for (const problem of error.details || []) {
    const field = String(problem.field || "").replace(/^body\./, "");
    const slot = form.querySelector(`[data-field-error="${CSS.escape(field)}"]`)
      || form.querySelector(`[data-field-error="${CSS.escape(field.split(".")[0])}"]`);
    if (slot) {
      slot.textContent = (slot.textContent ? slot.textContent + " " : "") + problem.message;
      const input = form.querySelector(`[name="${CSS.escape(slot.dataset.fieldError)}"]`);
      if (input) input.setAttribute("aria-invalid", "true");
    } else {
      unplaced.push(`${field}: ${problem.message}`);
    }
  }
  const general = form.querySelector("[data-form-error]");
  if (general) {
    general.textContent = [error.message, ...unplaced].join(" ");
    general.hidden = false;
  }
}

async function submitToApi(form, event) {
  event.preventDefault();
  if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
  clearErrors(form);
  const button = form.querySelector("[type=submit]");
  if (button) button.disabled = true;
  try {
    const method = form.dataset.method || "POST";
    const hasBody = !["DELETE"].includes(method) && form.dataset.noBody === undefined;
    const response = await fetch(form.dataset.api, {
      method,
      headers: hasBody ? { "Content-Type": "application/json", Accept: "application/json" } : { Accept: "application/json" },
      body: hasBody ? JSON.stringify(formBody(form)) : undefined,
      credentials: "same-origin",
    });
    if (!response.ok) { showErrors(form, await apiError(response)); return; }
    const result = response.status === 204 ? null : await response.json().catch(() => null);
    form.dispatchEvent(new CustomEvent("api:done", { detail: result, bubbles: true }));
    const then = form.dataset.then;
    if (then === "next") {
      window.location.assign(sameSitePath(new URLSearchParams(location.search).get("next"), "/"));
    } else if (then === "reload") {
      window.location.reload();
    } else if (then) {
      window.location.assign(sameSitePath(then.replace(/\{(\w+)\}/g, (_, key) => encodeURIComponent(result ? result[key] : "")), "/"));
    }
  } catch (failure) {
    showErrors(form, { message: "The server could not be reached: " + failure.message });
  } finally {
    if (button) button.disabled = false;
  }
}

// ---- The records page: filters in the URL, date presets, load more, live tail ----
function startOfDay(day) { const d = new Date(day); d.setHours(0, 0, 0, 0); return d; }
function presetRange(preset) {
  const now = new Date();
  if (preset === "today") return [startOfDay(now), null];
  if (preset === "7d") { const d = startOfDay(now); d.setDate(d.getDate() - 6); return [d, null]; }
  if (preset === "month") return [new Date(now.getFullYear(), now.getMonth(), 1), null];
  if (preset === "quarter") {
    const thisQuarter = Math.floor(now.getMonth() / 3) * 3;
    return [new Date(now.getFullYear(), thisQuarter - 3, 1), new Date(new Date(now.getFullYear(), thisQuarter, 1).getTime() - 1)];
  }
  return null;
}

function setUpFilters(form) {
  const preset = form.querySelector("[data-preset]");
  const custom = form.querySelectorAll("[data-custom-dates]");
  const showCustom = () => { for (const field of custom) field.hidden = preset.value !== "custom"; };
  preset.addEventListener("change", showCustom);
  // A preset's range as the URL holds it, computed on another day or in another zone, is not
  // that preset's range now: shown as what it is, a range from a link.
  const range = presetRange(preset.value);
  const dateFrom = form.elements.date_from.value;
  if (range && dateFrom && range[0].toISOString() !== new Date(dateFrom).toISOString()) {
    preset.append(new Option("As linked", "linked", true, true));
  }
  showCustom();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const severities = data.getAll("severity");
    data.delete("severity");
    data.set("severities", severities.join(","));
    if (preset.value === "linked") {
      data.delete("preset");  // a range a link gave (a bar of the stats): kept as it is
    } else {
      data.delete("date_from"); data.delete("date_to");
    }
    const range = presetRange(preset.value);
    if (range) {
      data.set("date_from", range[0].toISOString());
      if (range[1]) data.set("date_to", range[1].toISOString());
      data.delete("from_day"); data.delete("to_day");
    } else if (preset.value === "custom") {
      if (data.get("from_day")) data.set("date_from", new Date(data.get("from_day") + "T00:00:00").toISOString());
      if (data.get("to_day")) data.set("date_to", new Date(data.get("to_day") + "T23:59:59.999").toISOString());
    } else {
      data.delete("from_day"); data.delete("to_day");
    }
    if (data.get("sort_by") === "created_at") data.delete("sort_by");
    if (data.get("sort_dir") === "desc") data.delete("sort_dir");
    const query = new URLSearchParams();
    for (const [name, value] of data) if (value !== "") query.append(name, value);
    const text = query.toString();
    window.location.assign(form.getAttribute("action") + (text ? "?" + text : ""));
  });
}

// The rows of a page of the view, as HTML (/records/rows); a 401 (the session ended) is a
// sign-in that comes back here.
async function fetchRows(url) {
  const response = await fetch(url, { headers: { Accept: "text/html" }, credentials: "same-origin" });
  if (response.status === 401 || response.redirected) {  // the page's 401: a redirect to sign in
    window.location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
    throw new Error("signed out");
  }
  if (!response.ok) throw new Error((await apiError(response)).message);
  const template = document.createElement("template");
  template.innerHTML = await response.text();
  return {
    rows: [...template.content.querySelectorAll("tr")],
    next: response.headers.get("X-Next-Cursor"),
    last: response.headers.get("X-Last-Cursor"),
  };
}
function withParams(url, params) {
  const target = new URL(url, location.origin);
  for (const [name, value] of Object.entries(params)) target.searchParams.set(name, value);
  return target.pathname + target.search;
}

// Live tail: the records after the newest shown, oldest first, page by page until none is
// left (so a burst larger than a page leaves no gap), each put on top; then again in 2 s.
const TAIL_SECONDS = 2;
const TAIL_PAGES = 20;  // at most this many pages a round; the next round goes on from there

// The view's total, where the page left it to the API (a count can take longer than the page).
async function countView(slot) {
  try {
    const response = await fetch(slot.dataset.countUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) throw new Error((await apiError(response)).message);
    slot.textContent = (await response.json()).total.toLocaleString("en-US");
    slot.dataset.counted = "";
  } catch (failure) {
    slot.textContent = "(could not count: " + failure.message + ")";
  }
}

function setUpRecords(table) {
  const count = document.querySelector("[data-count-url]");
  if (count) countView(count);
  const body = table.querySelector("[data-rows]");
  const rowsUrl = table.dataset.rowsUrl;
  const more = document.querySelector("[data-load-more]");
  if (more) {
    more.addEventListener("click", async () => {
      more.disabled = true;
      try {
        const { rows, next } = await fetchRows(withParams(rowsUrl, { cursor: more.dataset.cursor }));
        body.append(...rows);
        localiseTimes(body);
        if (next) more.dataset.cursor = next; else more.remove();
      } catch (failure) {
        more.textContent = "Could not load more (" + failure.message + "): try again";
      } finally {
        more.disabled = false;
      }
    });
  }
  const tail = document.querySelector("[data-live-tail]");
  if (!tail) return;
  let after = table.dataset.tailCursor;
  let timer = null;
  const total = document.querySelector("[data-total]");
  const round = async () => {
    try {
      for (let page = 0; page < TAIL_PAGES && tail.checked; page += 1) {
        const params = { sort_by: "created_at", sort_dir: "asc" };
        if (after) params.cursor = after;
        const { rows, next, last } = await fetchRows(withParams(rowsUrl, params));
        const fresh = rows.filter((row) => !body.querySelector(`tr[data-id="${CSS.escape(row.dataset.id)}"]`));
        for (const row of fresh) { row.classList.add("fresh"); body.prepend(row); }
        localiseTimes(body);
        if (fresh.length && total && total.dataset.counted !== undefined) {
          total.textContent = (Number(total.textContent.replace(/\D/g, "")) + fresh.length).toLocaleString("en-US");
        }
        if (last) after = last;
        if (!next) break;
      }
    } catch (_) { /* the next round tries again */ }
    if (tail.checked) timer = window.setTimeout(round, TAIL_SECONDS * 1000);
  };
  tail.addEventListener("change", () => {
    window.clearTimeout(timer);
    if (tail.checked) round();
  });
}

document.addEventListener("DOMContentLoaded", () => {
  localiseTimes(document);
  for (const form of document.querySelectorAll("form[data-api]")) {
    form.addEventListener("submit", (event) => submitToApi(form, event));
  }
  const filters = document.querySelector("form[data-filters]");
  if (filters) setUpFilters(filters);
  const table = document.querySelector("table[data-rows-url]");
  if (table) setUpRecords(table);
  for (const button of document.querySelectorAll("[data-sign-out]")) {
    button.addEventListener("click", async () => {
      await fetch("/api/auth/logout", { method: "POST", credentials: "same-origin" });
      window.location.assign("/login");
    });
  }
  for (const button of document.querySelectorAll("[data-copy]")) {
    button.addEventListener("click", async () => {
      const source = document.getElementById(button.dataset.copy);
      await navigator.clipboard.writeText(source.value || source.textContent);
      button.textContent = "Copied";
    });
  }
});

window.audittrail = { localiseTimes, apiError, sameSitePath, zone };
