// The residents' committee's verification requests, and the street office's compounds side by
// side (its chart drawn by Linli as SVG, its exports as CSV and XLSX).
"use strict";

(function () {
  const L = window.Linli;
  const { api, askThen, el, t, status, $ } = L;

  // ------------------------------------------------------------ verification requests

  async function decide(v, action, body, item) {
    const path = "verifications/" + encodeURIComponent(v.compound) + "/" + v.number + "/" + action;
    try {
      const answer = await L.act(path, body);
      await showVerifications();
      status(answer.said.join(" ") || t(answer.status === "approved" ? "approved" : "refused"));
    } catch (e) {
      item.querySelector(".said").textContent = e.message;
      item.querySelector(".said").className = "said error";
    }
  }

  function requestItem(v) {
    const approve = el("button", { type: "button", class: "act-approve", text: t("approve") });
    const refuse = el("button", { type: "button", class: "act-refuse secondary", text: t("refuse") });
    const item = el("li", { class: "ticket request", "data-compound": v.compound, "data-number": String(v.number) }, [
      el("div", {}, [
        el("span", { class: "number", text: "#" + v.number }),
        el("span", { text: v.compound_name + " · " + t("household") + " " + v.household }),
      ]),
      el("p", { class: "text", text: t("name") + "：" + (v.name || "") }),
      el("p", { class: "clock", text: t("requested") + "：" + new Date(v.requested_at).toLocaleString() }),
      el("div", { class: "actions" }, [approve, refuse]),
      el("p", { class: "said" }),
    ]);
    approve.addEventListener("click", () => decide(v, "approve", {}, item));
    refuse.addEventListener("click", () => askThen(item, t("refuse_reason"), "reason", false, (reason) => decide(v, "refuse", { reason }, item)));
    return item;
  }

  async function showVerifications() {
    const data = await api("GET", "verifications");
    const list = $("verifications");
    list.textContent = "";
    for (const v of data.verifications) list.appendChild(requestItem(v));
    $("no-requests").hidden = data.verifications.length > 0;
  }

  L.register({
    key: "verifications", label: "verifications", section: "verifications-view", refresh: true,
    roles: ["residents_committee"], main: "residents_committee", show: showVerifications,
  });

  // ------------------------------------------------------------ the street office

  const period = $("period");
  for (const days of ["7", "30", "90", "365"]) period.appendChild(el("option", { value: days }));
  period.value = "30";

  async function showStreet() {
    for (const option of period.options) option.textContent = t("days_" + option.value);
    const data = await api("GET", "street?days=" + period.value);
    $("chart").src = data.chart;
    const table = $("street-table");
    table.textContent = "";
    table.appendChild(el("tr", {}, data.headers.map((h) => el("th", { text: h }))));
    for (const row of data.rows) {
      table.appendChild(el("tr", {}, row.map((v) => el("td", { text: v === null ? "—" : String(v) }))));
    }
    // The staff ranking, as the street office posts it each week (best first).
    const ranking = $("ranking-table");
    ranking.textContent = "";
    const cols = ["rank", "name", "compound", "handled", "sla_met", "median_first_minutes", "satisfaction"];
    ranking.appendChild(el("tr", {}, cols.map((c) => el("th", { text: t("rank_" + c) }))));
    for (const r of data.ranking) {
      ranking.appendChild(el("tr", {}, cols.map((c) => el("td", { text: r[c] === null ? "—" : String(r[c]) }))));
    }
    $("no-ranking").hidden = data.ranking.length > 0;
  }

  async function download(kind) {
    // The session is a bearer token, not a cookie: fetched here, then handed to the browser.
    const resp = await fetch("api/street/export." + kind + "?days=" + period.value, {
      headers: { Authorization: "Bearer " + L.token() }, credentials: "omit", cache: "no-store",
    });
    if (!resp.ok) { status((await resp.json().catch(() => ({}))).error || resp.status, true); return; }
    const link = el("a", { href: URL.createObjectURL(await resp.blob()), download: "linli-" + period.value + "d." + kind });
    document.body.appendChild(link);
    link.click();
    link.remove();
  }

  period.addEventListener("change", () => showStreet().catch((e) => status(e.message, true)));
  $("export-csv").addEventListener("click", () => download("csv"));
  $("export-xlsx").addEventListener("click", () => download("xlsx"));

  L.register({ key: "street", label: "street", section: "street-view", refresh: false, roles: ["observer"], main: "observer", show: showStreet });
})();
