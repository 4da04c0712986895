// Votes: the open and latest closed polls with their turnout (who took part, never what
// anyone chose), the result once closed, and paper ballots entered and confirmed by a second
// committee member, each through the votes bot's own !表决 纸质 / !表决 确认.
"use strict";

(function () {
  const L = window.Linli;
  const { api, el, t, $ } = L;

  function field(name, label) {
    return el("label", {}, [el("span", { text: label }), el("input", { name, "aria-label": label })]);
  }

  function paperForms(p, item) {
    const said = item.querySelector(".said");
    const path = "votes/" + encodeURIComponent(p.compound) + "/" + p.number + "/";
    async function send(action, body) {
      try {
        const answer = await L.act(path + action, body);
        said.className = "said";
        said.textContent = answer.said.join(" ");
      } catch (e) {
        said.className = "said error";
        said.textContent = e.message;
      }
    }
    const paper = el("form", { class: "inline paper" }, [
      field("household", t("paper_household")), field("choice", t("choice")),
      el("button", { type: "submit", text: t("enter_paper"), class: "ok" }),
    ]);
    paper.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const household = paper.household.value.trim(), choice = paper.choice.value.trim();
      if (household && choice) send("paper", { household, choice });
    });
    const confirm = el("form", { class: "inline confirm" }, [
      field("batch", t("batch")),
      el("button", { type: "submit", text: t("confirm_paper"), class: "ok" }),
    ]);
    confirm.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const batch = confirm.batch.value.trim();
      if (batch) send("confirm", { batch });
    });
    return [paper, confirm];
  }

  function pollItem(p) {
    const item = el("li", { class: "ticket poll", "data-compound": p.compound, "data-number": String(p.number) }, [
      el("div", {}, [
        el("span", { class: "number", text: "#" + p.number }),
        el("span", { text: p.compound_name + " · " + t(p.status === "open" ? "poll_open" : "poll_closed") + (p.secret ? " · " + t("secret") : "") }),
      ]),
      el("p", { class: "text", text: p.question }),
      p.rule ? el("p", { class: "rule", text: t("rule") + "：" + p.rule }) : null,
      el("p", { class: "clock turnout", text: p.turnout }),
      p.result ? el("pre", { class: "result", text: p.result }) : null,
      p.audit ? el("a", { class: "audit", href: p.audit, target: "_blank", rel: "noopener", text: t("audit_file") }) : null,
      el("p", { class: "said" }),
    ]);
    if (p.may_enter_paper) for (const form of paperForms(p, item)) item.appendChild(form);
    return item;
  }

  async function showVotes() {
    const data = await api("GET", "votes");
    const list = $("polls");
    list.textContent = "";
    for (const p of data.polls) list.appendChild(pollItem(p));
    $("no-polls").hidden = data.polls.length > 0;
  }

  L.register({
    key: "votes", label: "votes", section: "votes-view", refresh: true,
    roles: ["owners_committee", "residents_committee", "property_staff", "property_manager", "party_branch", "police", "observer"],
    main: "owners_committee",
    show: showVotes,
  });
})();
