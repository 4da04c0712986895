// The back office page: signs in with Matrix, then shows the staff's queue.
// In a widget (Element): an OpenID token from the host through matrix-widget-api's get_openid.
// Opened by URL (a phone): the homeserver's own password login, done here in the browser, then
// /openid/request_token; the password goes to the homeserver only, never to Linli.
// Either way Linli gets only the OpenID token, and answers with a session of its own, kept in
// this page's memory (no cookie, no storage).
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(window.location.search);
  let texts = {};
  let homeserver = "";
  let session = null;
  let locale = ""; // the compound's language once signed in; Linli's until then
  let serverOffset = 0; // server clock minus ours: countdowns follow Linli's clock

  const t = (key) => texts[key] || key;

  function status(text, isError) {
    const el = $("status");
    el.textContent = text || "";
    el.className = isError ? "error" : "";
    el.hidden = !text;
  }

  async function api(method, path, body) {
    const headers = { "Content-Type": "application/json" };
    if (session) headers.Authorization = "Bearer " + session.token;
    if (locale) headers["X-Linli-Locale"] = locale;
    const resp = await fetch("api/" + path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit", cache: "no-store",
    });
    const data = await resp.json().catch(() => ({}));
    if (resp.status === 401 && session) {
      session = null; // expired, or the person's roles changed: sign in again
      status(data.error, true);
      setTimeout(signIn, 1500);
    }
    if (!resp.ok) throw Object.assign(new Error(data.error || resp.status), { data, status: resp.status });
    return data;
  }

  async function loadTexts(lang) {
    if (lang) locale = lang;
    const cfg = await fetch("api/config" + (lang ? "?lang=" + encodeURIComponent(lang) : "")).then((r) => r.json());
    texts = cfg.texts; homeserver = cfg.homeserver;
    document.title = t("title");
    $("title").textContent = t("title");
    $("refresh").textContent = t("refresh");
    $("sign-out").textContent = t("sign_out");
    $("h-tickets").textContent = t("tickets");
    $("empty").textContent = t("empty");
    $("login-hint").textContent = t("login_hint");
    $("l-user").textContent = t("user");
    $("l-password").textContent = t("password");
    $("login-button").textContent = t("sign_in");
  }

  async function exchange(openid) {
    const answer = await api("POST", "session", {
      access_token: openid.access_token, matrix_server_name: openid.matrix_server_name,
    });
    session = answer;
    const me = await api("GET", "me");
    const first = Object.values(me.compounds)[0];
    if (first && first.locale !== locale && !params.get("lang")) await loadTexts(first.locale);
    $("who").textContent = answer.user_id;
    $("login").hidden = true;
    $("refresh").hidden = false; $("sign-out").hidden = false;
    await showQueue();
  }

  // ------------------------------------------------------------ in a widget

  let widgetApi = null;
  let widgetReady = null;
  function widgetMode() {
    const widgetId = params.get("widgetId") || params.get("widget");
    if (window.parent === window || !widgetId || !window.mxwidgets) return false;
    // The library's minified bundle defines a function that returns the module.
    const mx = typeof window.mxwidgets === "function" ? window.mxwidgets() : window.mxwidgets;
    if (!widgetApi) {
      let parentOrigin = "*";
      try { if (params.get("parentUrl")) parentOrigin = new URL(params.get("parentUrl")).origin; } catch (e) { /* keep * */ }
      widgetApi = new mx.WidgetApi(widgetId, parentOrigin);
      widgetReady = new Promise((resolve) => widgetApi.once("ready", resolve));
      widgetApi.start(); // the host asks for capabilities once this page has loaded
    }
    return true;
  }

  async function signInInWidget() {
    status(t("signing_in"));
    const ready = await Promise.race([widgetReady.then(() => true), new Promise((r) => setTimeout(() => r(false), 8000))]);
    if (!ready) return false; // no widget host answered: sign in as on a phone
    const openid = await widgetApi.requestOpenIDConnectToken();
    await exchange(openid);
    return true;
  }

  // ------------------------------------------------------------ on a phone

  async function hs(method, path, body, token) {
    const headers = { "Content-Type": "application/json" };
    if (token) headers.Authorization = "Bearer " + token;
    const resp = await fetch(homeserver + path, { method, headers, body: JSON.stringify(body || {}), credentials: "omit" });
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) throw Object.assign(new Error(data.error || resp.status), { status: resp.status });
    return data;
  }

  function showLogin() {
    status("");
    $("login").hidden = false;
  }

  $("login").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = ev.target;
    $("login-error").textContent = "";
    let login;
    try {
      login = await hs("POST", "/_matrix/client/v3/login", {
        type: "m.login.password",
        identifier: { type: "m.id.user", user: form.user.value.trim() },
        password: form.password.value,
        initial_device_display_name: "邻里工作台 Linli back office",
      });
    } catch (e) {
      $("login-error").textContent = t("login_failed");
      return;
    }
    form.password.value = "";
    try {
      const openid = await hs("POST", "/_matrix/client/v3/user/" + encodeURIComponent(login.user_id) + "/openid/request_token", {}, login.access_token);
      await exchange(openid);
    } catch (e) {
      $("login-error").textContent = e.message;
    } finally {
      // The page keeps no homeserver login: the OpenID token was all it needed.
      hs("POST", "/_matrix/client/v3/logout", {}, login.access_token).catch(() => {});
    }
  });

  async function signIn() {
    try {
      if (widgetMode() && (await signInInWidget())) return;
      showLogin();
    } catch (e) {
      status(e.message, true);
      showLogin();
    }
  }

  // ------------------------------------------------------------ the queue

  function duration(ms) {
    const minutes = Math.round(Math.abs(ms) / 60000);
    if (minutes < 120) return minutes + " " + t("minutes");
    const hours = Math.round(minutes / 60);
    if (hours < 48) return hours + " " + t("hours");
    return Math.round(hours / 24) + " " + t("days");
  }

  function clockText(ticket) {
    if (ticket.status === "waiting") return [t("paused") + (ticket.waiting_reason ? "：" + ticket.waiting_reason : ""), false];
    if (!ticket.due) return [ticket.status_label, false];
    const left = new Date(ticket.due).getTime() - (Date.now() + serverOffset);
    const which = ticket.clock === "first" ? t("first_due") : t("resolution_due");
    return left >= 0 ? [which + " " + t("left") + " " + duration(left), false] : [which + " " + t("late") + " " + duration(left), true];
  }

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") node.textContent = v; else node.setAttribute(k, v);
    }
    for (const child of children || []) if (child) node.appendChild(child);
    return node;
  }

  function requestId() {
    return (window.crypto && crypto.randomUUID) ? crypto.randomUUID() : String(Date.now()) + Math.random().toString(36).slice(2);
  }

  async function act(ticket, action, extra, item) {
    const body = Object.assign({ request_id: requestId() }, extra || {});
    const path = "tickets/" + encodeURIComponent(ticket.compound) + "/" + ticket.number + "/" + action;
    try {
      let answer;
      try { answer = await api("POST", path, body); } catch (e) {
        if (e.status) throw e;
        answer = await api("POST", path, body); // the network failed: the same request again
      }
      await showQueue(answer.said.join(" "));
    } catch (e) {
      item.querySelector(".said").textContent = e.message;
      item.querySelector(".said").className = "said error";
    }
  }

  function askThen(item, label, name, optional, onOk) {
    const old = item.querySelector("form.inline");
    if (old) old.remove();
    const input = el("input", { name, "aria-label": label });
    const form = el("form", { class: "inline" }, [
      el("label", {}, [el("span", { text: label }), input]),
      el("button", { type: "submit", text: t("ok"), class: "ok" }),
      el("button", { type: "button", text: t("cancel"), class: "secondary cancel" }),
    ]);
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (!optional && !input.value.trim()) return;
      onOk(input.value.trim());
    });
    form.querySelector(".cancel").addEventListener("click", () => form.remove());
    item.appendChild(form);
    input.focus();
  }

  async function toggleHistory(ticket, item) {
    const box = item.querySelector(".history");
    if (box.childElementCount) { box.textContent = ""; return; }
    const data = await api("GET", "tickets/" + encodeURIComponent(ticket.compound) + "/" + ticket.number);
    for (const line of data.history) {
      const when = new Date(line.at).toLocaleString();
      const what = Object.values(line.detail).join(" ");
      box.appendChild(el("li", { text: when + " · " + line.action + (line.actor ? " · " + line.actor : "") + (what ? " · " + what : "") }));
    }
  }

  function ticketItem(ticket) {
    const [clock, late] = clockText(ticket);
    const classes = ["ticket"];
    if (ticket.urgent) classes.push("urgent");
    if (ticket.overdue) classes.push("overdue");
    const button = (action, label, secondary) => {
      const b = el("button", { type: "button", class: "act-" + action + (secondary ? " secondary" : ""), text: label });
      return b;
    };
    const buttons = [];
    if (ticket.status === "open" && !ticket.assignee) buttons.push(button("claim", t("claim")));
    if (ticket.status === "open" || ticket.status === "waiting") buttons.push(button("done", t("done")));
    if (ticket.status === "open" || ticket.status === "waiting") buttons.push(button("assign", t("assign"), true));
    if (ticket.status === "open") buttons.push(button("pause", t("pause"), true));
    if (ticket.status === "waiting") buttons.push(button("resume", t("resume"), true));
    buttons.push(button("history", t("history"), true));
    const link = el("a", { href: ticket.link, target: "_blank", rel: "noopener noreferrer", class: "thread", text: t("open_thread") });
    const item = el("li", { class: classes.join(" "), "data-compound": ticket.compound, "data-number": String(ticket.number), "data-status": ticket.status }, [
      el("div", {}, [
        el("span", { class: "number", text: "#" + ticket.number }),
        ticket.urgent ? el("span", { class: "badge urgent", text: t("urgent") }) : null,
        ticket.overdue ? el("span", { class: "badge overdue", text: t("overdue") }) : null,
        el("span", { text: ticket.compound_name + " · " + ticket.category_label + (ticket.building ? " · " + ticket.building + t("building") : "") + " · " + ticket.status_label }),
      ]),
      el("p", { class: "text", text: ticket.text }),
      el("p", { class: "clock" + (late ? " late" : ""), text: clock }),
      el("p", { class: "assignee", text: t("assignee") + "：" + (ticket.assignee || t("nobody")) }),
      el("div", { class: "actions" }, [...buttons, link]),
      el("p", { class: "said" }),
      el("ul", { class: "history" }),
    ]);
    item.addEventListener("click", (ev) => {
      const b = ev.target.closest("button");
      if (!b || !b.className.startsWith("act-")) return;
      const action = b.className.split(" ")[0].slice(4);
      if (action === "claim") act(ticket, "claim", {}, item);
      else if (action === "done") askThen(item, t("done_note"), "text", true, (v) => act(ticket, "done", v ? { text: v } : {}, item));
      else if (action === "pause") askThen(item, t("reason"), "reason", false, (v) => act(ticket, "pause", { reason: v }, item));
      else if (action === "assign") askThen(item, t("assign_to"), "user", false, (v) => act(ticket, "assign", { user: v }, item));
      else if (action === "resume") act(ticket, "resume", {}, item);
      else if (action === "history") toggleHistory(ticket, item);
    });
    return item;
  }

  async function showQueue(said) {
    const data = await api("GET", "tickets");
    serverOffset = new Date(data.now).getTime() - Date.now();
    const list = $("tickets");
    list.textContent = "";
    for (const ticket of data.tickets) list.appendChild(ticketItem(ticket));
    $("empty").hidden = data.tickets.length > 0;
    $("queue").hidden = false;
    status(said || "");
  }

  $("refresh").addEventListener("click", () => showQueue().catch((e) => status(e.message, true)));
  $("sign-out").addEventListener("click", async () => {
    await api("DELETE", "session").catch(() => {});
    session = null;
    $("queue").hidden = true; $("refresh").hidden = true; $("sign-out").hidden = true; $("who").textContent = "";
    showLogin();
  });
  setInterval(() => { if (session && !$("queue").hidden && !document.querySelector("form.inline")) showQueue().catch(() => {}); }, 30000);

  // The widget API listens at once: Element asks for capabilities as soon as the frame has
  // loaded, before the texts below arrive.
  widgetMode();
  loadTexts(params.get("lang")).then(signIn).catch((e) => status(String(e), true));
})();
