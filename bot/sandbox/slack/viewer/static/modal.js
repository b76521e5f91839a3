// The sandbox viewer's modals: what the person types, dispatched inputs, submission.
//
// Loaded after viewer.js and sharing its page state (`where`, `$`, `post`, `swap`, …). Like
// Slack's client, a modal keeps what was typed when the app updates it, sends the typing of
// an input whose block has `dispatch_action` as a `block_actions` (on Enter, or a moment after
// each change with `on_character_entered`), and submits its inputs as `view.state.values`.
"use strict";

// How long typing pauses before an `on_character_entered` input is sent: one action per
// pause in typing, not one per key.
const DISPATCH_DELAY_MS = 300;
const CONTROLS = ".bk-input input, .bk-input textarea, .bk-input select";
const dispatchTimers = new Map(); // control id → the pending dispatch of what it holds

function cancelDispatches() {
  for (const timer of dispatchTimers.values()) window.clearTimeout(timer);
  dispatchTimers.clear();
}

function swapModal(html) {
  const old = $("#modal");
  const typed = old ? typedValues(old) : null;
  const active = document.activeElement;
  const focused = old && old.contains(active) ? active.id : null;
  const typing = focused && typeof active.selectionStart === "number";
  const caret = typing ? [active.selectionStart, active.selectionEnd] : null;
  if (!swap("modal", $("#modal-pane"), html)) return;
  const form = $("#modal");
  // The same modal re-rendered (errors shown, or updated by the app) keeps what was typed in
  // each input the update kept (same block_id and action_id), as Slack does.
  if (form && typed && typed.viewId === form.dataset.viewId) {
    restoreValues(form, typed.values);
    const again = focused ? document.getElementById(focused) : null;
    if (again) {
      again.focus();
      if (caret && typeof again.selectionStart === "number") again.setSelectionRange(...caret);
    }
  } else if (form) {
    const first = form.querySelector("input, textarea, select");
    if (first) first.focus();
  }
}

// The key a control's typed state is kept under: its input's block and action, and for a
// choice among several boxes, the box's value.
function controlKey(control) {
  const wrapper = control.closest(".bk-input");
  const key = wrapper.dataset.blockId + "/" + wrapper.dataset.actionId;
  return control.type === "radio" || control.type === "checkbox" ? key + "=" + control.value : key;
}

function typedValues(form) {
  const values = {};
  for (const control of form.querySelectorAll(CONTROLS)) {
    const key = controlKey(control);
    if (control.type === "radio" || control.type === "checkbox") values[key] = control.checked;
    else if (control.multiple) values[key] = [...control.selectedOptions].map((o) => o.value);
    else values[key] = control.value;
  }
  return { viewId: form.dataset.viewId, values };
}

function restoreValues(form, values) {
  for (const control of form.querySelectorAll(CONTROLS)) {
    const key = controlKey(control);
    if (!(key in values)) continue;
    if (control.type === "radio" || control.type === "checkbox") control.checked = values[key];
    else if (control.multiple) {
      for (const option of control.options) option.selected = values[key].includes(option.value);
    } else control.value = values[key];
  }
}

function inputValue(wrapper) {
  const control = wrapper.querySelector("[data-input-kind]");
  if (!control) return null;
  const kind = control.dataset.inputKind;
  if (kind === "radio_buttons") {
    const checked = control.querySelector("input:checked");
    return checked ? checked.value : null;
  }
  if (kind === "checkboxes") {
    const checked = [...control.querySelectorAll("input:checked")].map((box) => box.value);
    return checked.length ? checked : null;
  }
  if (control.multiple) {
    const chosen = [...control.selectedOptions].map((option) => option.value);
    return chosen.length ? chosen : null;
  }
  if (!("value" in control)) return null; // an input the viewer cannot show
  return control.value === "" ? null : control.value;
}

// What the modal's inputs hold: block_id → action_id → value, as the simulator takes it.
function modalValues(form) {
  const values = {};
  for (const wrapper of form.querySelectorAll(".bk-input[data-block-id]")) {
    const value = inputValue(wrapper);
    if (value !== null) values[wrapper.dataset.blockId] = { [wrapper.dataset.actionId]: value };
  }
  return values;
}

async function submitModal(form) {
  cancelDispatches(); // the submission carries what was typed
  const values = modalValues(form);
  const submit = $("#modal-submit");
  const error = $("#modal-error");
  error.textContent = "";
  if (submit) submit.disabled = true;
  const result = await post("/_sim/view_submission", {
    user_id: where.user,
    view_id: form.dataset.viewId,
    values,
  });
  // The modal closes, or shows the app's errors, through the next screen; only a failed
  // delivery needs saying here (Slack shows "We had some trouble connecting").
  const problem = deliveryProblem(result);
  const current = $("#modal");
  if (current && current.dataset.viewId === form.dataset.viewId) {
    if (problem) $("#modal-error").textContent = problem;
    const again = $("#modal-submit");
    if (again) again.disabled = false;
  }
}

// ---- dispatched inputs ----------------------------------------------------------------------

function dispatchTriggers(control) {
  const wrapper = control.closest && control.closest("#modal .bk-input[data-dispatch]");
  return wrapper ? wrapper.dataset.dispatch.split(" ") : [];
}

// Sends the input's text, looked up by id: the modal may have been re-rendered meanwhile
// (and if it now shows another view, that one's inputs are not what was typed in).
async function dispatchInput(controlId, viewId) {
  dispatchTimers.delete(controlId);
  const form = $("#modal");
  const control = document.getElementById(controlId);
  if (!form || form.dataset.viewId !== viewId || !control || !form.contains(control)) return;
  const wrapper = control.closest(".bk-input");
  const result = await post("/_sim/action", {
    user_id: where.user,
    view_id: form.dataset.viewId,
    block_id: wrapper.dataset.blockId,
    action_id: wrapper.dataset.actionId,
    value: control.value,
    values: modalValues(form),
  });
  const problem = deliveryProblem(result);
  const current = $("#modal");
  if (problem && current && current.dataset.viewId === form.dataset.viewId) {
    $("#modal-error").textContent = problem;
  }
}

document.addEventListener("input", (event) => {
  const control = event.target;
  if (!dispatchTriggers(control).includes("on_character_entered")) return;
  const viewId = $("#modal").dataset.viewId;
  window.clearTimeout(dispatchTimers.get(control.id));
  dispatchTimers.set(
    control.id,
    window.setTimeout(() => dispatchInput(control.id, viewId), DISPATCH_DELAY_MS),
  );
});

document.addEventListener("keydown", (event) => {
  const control = event.target;
  if (event.key !== "Enter" || event.isComposing || control.tagName !== "INPUT") return;
  if (!dispatchTriggers(control).includes("on_enter_pressed")) return;
  event.preventDefault(); // Enter sends the input to the app instead of submitting the modal
  window.clearTimeout(dispatchTimers.get(control.id));
  dispatchInput(control.id, $("#modal").dataset.viewId);
});
