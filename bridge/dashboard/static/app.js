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
  // The views (queue.js, office.js, reach.js) register here: {key, label, section, roles (who
  // sees it), main (whose first view it is), show(), refresh}.
  const views = [];
  let current = null;

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
    for (const node of document.querySelectorAll("[data-text]")) node.textContent = t(node.dataset.text);
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
    // The name the person chose (as the homeserver has it); the ID on hover.
    $("who").textContent = me.name || answer.user_id;
    $("who").title = answer.user_id;
    $("login").hidden = true;
    $("refresh").hidden = false; $("sign-out").hidden = false;
    const roles = new Set(Object.values(me.compounds).flatMap((c) => c.roles));
    const mine = views.filter((v) => v.roles.some((r) => roles.has(r)));
    const nav = $("views");
    nav.textContent = "";
    for (const view of mine) {
      const b = el("button", { type: "button", class: "secondary view-" + view.key, text: t(view.label) });
      b.addEventListener("click", () => show(view));
      nav.appendChild(b);
    }
    nav.hidden = mine.length < 2;
    // First the view made for them: the one whose main role they hold.
    const main = mine.find((v) => v.main && roles.has(v.main)) || mine[0];
    if (main) await show(main);
  }

  async function show(view) {
    for (const v of views) $(v.section).hidden = true;
    for (const b of $("views").children) b.classList.toggle("current", b.classList.contains("view-" + view.key));
    current = view;
    await view.show();
    $(view.section).hidden = false;
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

  // A click's request: sent again with the same ID when the network failed (Linli then does
  // it once), never when Linli answered.
  async function act(path, body) {
    const once = Object.assign({ request_id: requestId() }, body || {});
    try { return await api("POST", path, once); } catch (e) {
      if (e.status) throw e;
      return api("POST", path, once);
    }
  }

  // An inline question under an item (a reason, a note): no prompt(), which a widget's
  // sandbox may refuse.
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

  window.Linli = {
    api, act, askThen, el, t, status, $,
    token: () => (session ? session.token : ""),
    serverNow: () => Date.now() + serverOffset,
    setServerNow: (iso) => { serverOffset = new Date(iso).getTime() - Date.now(); },
    register: (view) => views.push(view),
  };

  $("refresh").addEventListener("click", () => current && show(current).catch((e) => status(e.message, true)));
  $("sign-out").addEventListener("click", async () => {
    await api("DELETE", "session").catch(() => {});
    session = null;
    for (const v of views) $(v.section).hidden = true;
    $("views").hidden = true; $("refresh").hidden = true; $("sign-out").hidden = true; $("who").textContent = "";
    showLogin();
  });
  setInterval(() => {
    if (session && current && current.refresh && !document.querySelector("form.inline")) current.show().catch(() => {});
  }, 30000);

  // The widget API listens at once: Element asks for capabilities as soon as the frame has
  // loaded, before the texts below arrive; the views' scripts have run by the time they do.
  widgetMode();
  document.addEventListener("DOMContentLoaded", () => {
    loadTexts(params.get("lang")).then(signIn).catch((e) => status(String(e), true));
  });
})();
