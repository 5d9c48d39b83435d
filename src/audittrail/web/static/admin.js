// audittrail viewer: what the forms of the applications and API keys pages need beyond app.js.
// app.js sends every form[data-api]; this keeps the hidden fields it sends in step with the
// inputs they stand for (data-skip: not sent by themselves) and shows a key's secret once.
"use strict";

// ---- A param's enum values are asked for only when its type is enum ----
function showEnumValues(param) {
  const type = param.querySelector("[data-param-type]");
  const field = param.querySelector("[data-enum-field]");
  if (!type || !field) return;
  field.hidden = type.value !== "enum";
  for (const input of field.querySelectorAll("input")) input.disabled = field.hidden;
}

// ---- The new application's param rows, sent as the form's `params` ----
// Numbered as the API numbers its problems (params.0.key): after a row comes or goes, the
// ids, names and error slots of every row are numbered again.
const NUMBERED = ["id", "for", "name", "aria-describedby", "data-field-error"];

function renumber(rows) {
  rows.querySelectorAll("[data-param]").forEach((row, index) => {
    row.querySelector("legend").textContent = `Param ${index + 1}`;
    for (const element of row.querySelectorAll("*")) {
      for (const name of NUMBERED) {
        const value = element.getAttribute(name);
        if (value) element.setAttribute(name, value.replace(/params([.-])\d+/g, `params$1${index}`));
      }
    }
  });
}

function paramOf(row) {
  const field = (name) => row.querySelector(`[data-param-field="${name}"]`);
  const param = {
    key: field("key").value.trim(),
    type: field("type").value,
    required: field("required").checked,
    sensitive: field("sensitive").checked,
  };
  for (const name of ["label", "description"]) {
    const value = field(name).value.trim();
    if (value) param[name] = value;
  }
  if (param.type === "enum") {
    param.enum_values = field("enum_values").value.split(",").map((s) => s.trim()).filter(Boolean);
  }
  return param;
}

function setUpParamRows(form) {
  const rows = form.querySelector("[data-param-rows]");
  const template = form.querySelector("template[data-param-template]");
  const sent = form.querySelector("[data-params-json]");
  const sync = () => { sent.value = JSON.stringify([...rows.querySelectorAll("[data-param]")].map(paramOf)); };
  form.querySelector("[data-add-param]").addEventListener("click", () => {
    const row = template.content.firstElementChild.cloneNode(true);
    rows.append(row);
    renumber(rows);
    showEnumValues(row);
    sync();
    row.querySelector("[data-param-field=key]").focus();
  });
  rows.addEventListener("click", (event) => {
    const remove = event.target.closest("[data-remove-param]");
    if (!remove) return;
    remove.closest("[data-param]").remove();
    renumber(rows);
    sync();
  });
  form.addEventListener("input", sync);
  form.addEventListener("change", sync);
  sync();
}

// ---- Ticked boxes sent as one list, left out when none is (an API key's applications) ----
function setUpGathered(form) {
  const sync = () => {
    for (const hidden of form.querySelectorAll("input[data-gather]")) {
      const ticked = form.querySelectorAll(`input[data-gathered="${CSS.escape(hidden.dataset.gather)}"]:checked`);
      hidden.value = ticked.length ? JSON.stringify([...ticked].map((box) => box.value)) : "";
    }
  };
  form.addEventListener("change", sync);
  sync();
}

// ---- A new or rotated key's secret: in the API's answer only, shown here once ----
function showSecret(created) {
  const panel = document.querySelector("[data-secret-panel]");
  panel.querySelector("[data-secret-name]").textContent = created.name;
  panel.querySelector("#new-secret").value = created.key;
  panel.querySelector("[data-copy]").textContent = "Copy";
  panel.hidden = false;
  panel.querySelector("h2").focus();
}

document.addEventListener("DOMContentLoaded", () => {
  for (const param of document.querySelectorAll("[data-param]")) showEnumValues(param);
  document.addEventListener("change", (event) => {
    if (event.target.matches("[data-param-type]")) showEnumValues(event.target.closest("[data-param]"));
  });
  for (const form of document.querySelectorAll("form[data-params-form]")) setUpParamRows(form);
  for (const form of document.querySelectorAll("form:has(input[data-gather])")) setUpGathered(form);
  // A colour left as it is is not sent: the API derives one from the key.
  for (const input of document.querySelectorAll("input[data-untouched]")) {
    input.addEventListener("input", () => { delete input.dataset.skip; }, { once: true });
  }
  document.addEventListener("api:done", (event) => {
    if (!event.target.matches("form[data-shows-secret]") || !event.detail) return;
    showSecret(event.detail);
  });
});
