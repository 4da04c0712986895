// The property staff's queue (and the committees', who may run the same !工单 commands):
// open tickets with their SLA clocks, overdue first; each button is the command it names.
"use strict";

(function () {
  const L = window.Linli;
  const { api, askThen, el, t, status, $ } = L;


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
    const left = new Date(ticket.due).getTime() - L.serverNow();
    const which = ticket.clock === "first" ? t("first_due") : t("resolution_due");
    return left >= 0 ? [which + " " + t("left") + " " + duration(left), false] : [which + " " + t("late") + " " + duration(left), true];
  }

  async function act(ticket, action, extra, item) {
    const path = "tickets/" + encodeURIComponent(ticket.compound) + "/" + ticket.number + "/" + action;
    try {
      const answer = await L.act(path, extra);
      await showQueue(answer.said.join(" "));
    } catch (e) {
      item.querySelector(".said").textContent = e.message;
      item.querySelector(".said").className = "said error";
    }
  }

  async function toggleHistory(ticket, item) {
    const box = item.querySelector(".history");
    if (box.childElementCount) { box.textContent = ""; return; }
    const data = await api("GET", "tickets/" + encodeURIComponent(ticket.compound) + "/" + ticket.number);
    for (const line of data.history) {
      const when = new Date(line.at).toLocaleString();
      const what = Object.values(line.detail).join(" ");
      const action = t("history_" + line.action) === "history_" + line.action ? line.action : t("history_" + line.action);
      box.appendChild(el("li", { text: when + " · " + action + (line.actor ? " · " + line.actor : "") + (what ? " · " + what : "") }));
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
    L.setServerNow(data.now);
    const list = $("tickets");
    list.textContent = "";
    for (const ticket of data.tickets) list.appendChild(ticketItem(ticket));
    $("empty").hidden = data.tickets.length > 0;
    status(said || "");
  }


  L.register({
    key: "tickets", label: "tickets", section: "queue", refresh: true, main: "property_staff",
    roles: ["property_staff", "property_manager", "residents_committee", "owners_committee"],
    show: () => showQueue(),
  });
})();
