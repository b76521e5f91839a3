// The sandbox viewer's page script.
//
// It renders nothing itself: the simulator sends each pane as ready, escaped HTML
// (`GET /viewer/screen`). The script keeps the panes fresh (server-sent events on the
// simulator's change sequence) and turns what the person does into the driver calls
// Slack's client would cause: slash commands, button clicks, modal submissions, posts.
"use strict";

const where = { user: null, channel: null, thread: null, tab: null, message: null };
const shown = { sidebar: null, main: null, thread: null, modal: null };
let seq = -1;
let loading = false;
let stale = false;
let moves = 0; // bumped whenever the person goes somewhere; an answer to an older ask is dropped
let homeOpenedFor = null;
let linkedShown = null; // the linked-to message last scrolled to and highlighted

const $ = (selector) => document.querySelector(selector);

// ---- screens ------------------------------------------------------------------------------

function readLocation() {
  const query = new URLSearchParams(window.location.search);
  where.user = query.get("user");
  where.channel = query.get("channel");
  where.thread = query.get("thread");
  where.tab = query.get("tab");
  where.message = query.get("message");
}

function writeLocation() {
  const query = new URLSearchParams();
  if (where.user) query.set("user", where.user);
  if (where.channel) query.set("channel", where.channel);
  if (where.thread) query.set("thread", where.thread);
  if (where.tab === "messages" || where.tab === "home") query.set("tab", where.tab);
  if (where.message) query.set("message", where.message);
  window.history.replaceState(null, "", "/?" + query.toString());
}

async function refresh() {
  if (loading) {
    stale = true; // one more round once this one lands
    return;
  }
  loading = true;
  try {
    do {
      stale = false;
      const query = new URLSearchParams();
      for (const [key, value] of Object.entries(where)) {
        if (value) query.set(key, value);
      }
      const asked = moves;
      const response = await fetch("/viewer/screen?" + query.toString(), { cache: "no-store" });
      if (!response.ok) throw new Error("the simulator answered HTTP " + response.status);
      const screen = await response.json();
      if (asked === moves) apply(screen);
      else stale = true;
    } while (stale);
  } catch (error) {
    notify("Cannot reach the Slack simulator: " + error.message, true);
  } finally {
    loading = false;
  }
}

function apply(screen) {
  where.user = screen.user;
  where.channel = screen.channel;
  where.thread = screen.thread;
  where.tab = screen.tab;
  where.message = screen.message;
  seq = screen.seq;
  writeLocation();
  document.title = screen.title + " · Slack (simulator)";

  swap("sidebar", $("#sidebar"), screen.panes.sidebar);
  swapMain(screen.panes.main);
  $("#thread-column").hidden = !screen.panes.thread;
  swapThread(screen.panes.thread);
  swapModal(screen.panes.modal);
  showLinked(screen);

  const composer = $("#composer-input");
  composer.disabled = !screen.composer.enabled;
  composer.placeholder = screen.composer.placeholder;
  $("#composer").hidden = screen.tab === "home";
  document.body.dataset.seq = String(screen.seq);

  // Slack tells the app each time someone opens its Home tab; the app then publishes it.
  const home = screen.tab === "home" ? screen.user + "/" + screen.channel : null;
  if (home && home !== homeOpenedFor) {
    post("/_sim/app_home_opened", { user_id: screen.user }).then(reportDelivery);
  }
  homeOpenedFor = home;
}

function swap(name, element, html) {
  if (shown[name] === html) return false;
  shown[name] = html;
  element.innerHTML = html;
  return true;
}

function atBottom(element) {
  return element.scrollHeight - element.scrollTop - element.clientHeight < 40;
}

function swapMain(html) {
  const before = $("#timeline");
  const conversation = before ? before.dataset.conversation : null;
  const following = !before || atBottom(before);
  const top = before ? before.scrollTop : 0;
  if (!swap("main", $("#main-pane"), html)) return;
  const after = $("#timeline");
  if (!after) return;
  // Follow new messages unless the person scrolled up to read older ones: then stay there.
  const arrived = after.dataset.conversation !== conversation;
  after.scrollTop = following || arrived ? after.scrollHeight : top;
}

// The thread's replies scroll in their own box, which each update replaces: keep its place
// (following new replies from the bottom); a thread just opened starts at its parent.
function swapThread(html) {
  const before = $("#thread-pane .thread-messages");
  const thread = before ? before.dataset.threadTs : null;
  const following = before && atBottom(before);
  const top = before ? before.scrollTop : 0;
  if (!swap("thread", $("#thread-pane"), html)) return;
  const after = $("#thread-pane .thread-messages");
  if (!after || after.dataset.threadTs !== thread) return;
  after.scrollTop = following ? after.scrollHeight : top;
}

// A permalink's message: scrolled into view and flashed, once per arrival (a later re-render
// of its pane does not flash it again). A reply is shown in its open thread.
function showLinked(screen) {
  if (!screen.message) {
    linkedShown = null;
    return;
  }
  const key = screen.channel + "/" + screen.thread + "/" + screen.message;
  if (key === linkedShown) return;
  const selector = '[data-testid="message"][data-ts="' + CSS.escape(screen.message) + '"]';
  const inThread = screen.thread && screen.thread !== screen.message;
  const article = (inThread ? $("#thread-pane") : $("#timeline"))?.querySelector(selector);
  if (!article) return;
  linkedShown = key;
  if (inThread) {
    const parent = $("#timeline")?.querySelector('[data-ts="' + CSS.escape(screen.thread) + '"]');
    if (parent) parent.scrollIntoView({ block: "center" });
  }
  article.scrollIntoView({ block: "center" });
  article.classList.add("linked");
}

// ---- talking to the simulator ---------------------------------------------------------------

async function post(url, body) {
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    let data = null;
    try {
      data = await response.json();
    } catch (_) {
      data = null;
    }
    return { ok: response.ok, status: response.status, data };
  } catch (error) {
    return { ok: false, status: 0, data: { error: error.message } };
  }
}

// What went wrong with a delivery to the app, in words, or null when it went fine.
function deliveryProblem(result) {
  const data = result.data || {};
  if (!result.ok) return data.error || "the simulator answered HTTP " + result.status;
  if (data.error === "timeout" || data.timed_out) return "the app did not answer within 3 seconds";
  if (data.error) return "could not reach the app (" + data.error + ")";
  if (data.status !== undefined && data.status !== 200) return "the app answered HTTP " + data.status;
  if (data.rejected) return "Slack refused the app's answer (" + data.rejected + ")";
  return null;
}

function reportDelivery(result) {
  const problem = deliveryProblem(result);
  if (problem) notify(problem, true);
  return problem;
}

let noticeTimer = null;
function notify(text, problem) {
  const notice = $("#notice");
  notice.textContent = text;
  notice.classList.toggle("problem", Boolean(problem));
  notice.hidden = false;
  window.clearTimeout(noticeTimer);
  noticeTimer = window.setTimeout(() => {
    notice.hidden = true;
  }, 8000);
}

// Slack's client escapes what people type and wraps links in <…> before posting.
function slackEncode(text) {
  const escape = (part) => part.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  return text
    .split(/(https?:\/\/[^\s<>|]+)/)
    .map((part, index) => (index % 2 ? "<" + part.replace(/&/g, "&amp;") + ">" : escape(part)))
    .join("");
}

async function send(input, threadTs) {
  const text = input.value.trim();
  if (!text) return;
  input.value = "";
  let result;
  const command = text.match(/^(\/\S+)\s*([\s\S]*)$/);
  if (command) {
    result = await post("/_sim/command", {
      command: command[1],
      text: command[2],
      user_id: where.user,
      channel_id: where.channel,
    });
  } else {
    const body = { user_id: where.user, channel_id: where.channel, text: slackEncode(text) };
    if (threadTs) body.thread_ts = threadTs;
    result = await post("/_sim/messages", body);
    if (result.ok) return; // the bot may ignore a message; that is not a problem
  }
  if (reportDelivery(result) && !result.ok) input.value = text; // let them fix and resend
}

async function act(element, value) {
  if (element.dataset.confirm && !window.confirm(element.dataset.confirm)) return null;
  const body = { user_id: where.user, action_id: element.dataset.actionId };
  if (element.dataset.viewId) {
    body.view_id = element.dataset.viewId;
    // Slack sends what a modal's inputs hold with every action in it (`view.state.values`).
    const form = element.closest("#modal");
    if (form) body.values = modalValues(form);
  } else {
    body.channel_id = element.dataset.channel;
    body.message_ts = element.dataset.ts;
  }
  const chosen = value !== undefined ? value : element.dataset.value;
  if (chosen !== undefined && chosen !== "") body.value = chosen;
  element.classList.add("busy");
  try {
    return await post("/_sim/action", body);
  } finally {
    element.classList.remove("busy");
  }
}

// ---- what the person does ---------------------------------------------------------------------

function go(changes) {
  Object.assign(where, { message: null }, changes);
  moves += 1;
  refresh();
}

// The URL a link leads to if it is one of this viewer's pages (a message's permalink), with
// the person acting kept; null for anywhere else.
function viewerLink(anchor) {
  if (!anchor) return null;
  const url = new URL(anchor.href, window.location.href);
  if (url.origin !== window.location.origin) return null;
  if (url.pathname !== "/" && !url.pathname.startsWith("/archives/")) return null;
  if (where.user && !url.searchParams.has("user")) url.searchParams.set("user", where.user);
  return url.href;
}

document.addEventListener("click", (event) => {
  const target = event.target.closest(
    "[data-conversation], [data-tab], [data-open-thread], #thread-close, .modal-close, " +
      "button[data-action-id], a[data-action-id]",
  );
  const link = viewerLink(event.target.closest('a[target="_blank"]'));
  if (link) {
    // A link into this workspace (a permalink) opens here, as Slack's client does.
    event.preventDefault();
    if (target && target.matches("a[data-action-id]")) {
      // A link button tells the app first (unless its confirmation was declined).
      act(target).then((result) => result && window.location.assign(link));
    } else window.location.assign(link);
    return;
  }
  if (!target) return;
  if (target.matches("a[data-action-id]")) {
    // A link button: the browser opens the URL in a new tab; Slack also tells the app.
    act(target);
    return;
  }
  event.preventDefault();
  if (target.matches("button[data-action-id]")) {
    if (!target.disabled) act(target).then((result) => result && reportDelivery(result));
  } else if (target.dataset.conversation) {
    go({ channel: target.dataset.conversation, thread: null, tab: null });
  } else if (target.dataset.tab) {
    go({ tab: target.dataset.tab, thread: null });
  } else if (target.dataset.openThread) {
    go({ thread: target.dataset.openThread });
  } else if (target.id === "thread-close") {
    go({ thread: null });
  } else if (target.matches(".modal-close")) {
    const form = $("#modal");
    if (form) {
      post("/viewer/close_view", { user_id: where.user, view_id: form.dataset.viewId }).then(
        reportDelivery,
      );
    }
  }
});

document.addEventListener("change", (event) => {
  const target = event.target;
  if (target.id === "user-picker") {
    go({ user: target.value, thread: null });
  } else if (target.matches("select[data-action-id]") && target.value) {
    act(target, target.value).then((result) => result && reportDelivery(result));
  }
});

// Like Slack's composer: a link typed or pasted (not yet sent) is offered to the app for a
// preview (`link_shared` from channel COMPOSER), once per link.
const previewed = new Set();
document.addEventListener("input", (event) => {
  const input = event.target;
  if (input.id !== "composer-input" && input.id !== "thread-composer-input") return;
  if (!where.channel) return;
  const links = input.value.match(/https?:\/\/[^\s<>|]+/g) || [];
  const fresh = links.filter((link) => !previewed.has(link));
  if (!fresh.length) return;
  fresh.forEach((link) => previewed.add(link));
  post("/_sim/composer", { user_id: where.user, channel_id: where.channel, text: input.value });
});

document.addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  if (form.id === "composer") send($("#composer-input"), null);
  else if (form.id === "thread-composer") send($("#thread-composer-input"), where.thread);
  else if (form.id === "modal") submitModal(form);
});

// ---- live updates ---------------------------------------------------------------------------

function listen() {
  const live = $("#live");
  const events = new EventSource("/viewer/events");
  events.onopen = () => {
    live.textContent = "live";
  };
  events.onerror = () => {
    live.textContent = "reconnecting…"; // EventSource retries by itself
  };
  events.onmessage = (event) => {
    if (Number(event.data) !== seq) refresh();
  };
}

readLocation();
refresh();
listen();
