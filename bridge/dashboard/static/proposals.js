// Proposals (the residents' committee): each with the stage it is at, accepted with a
// discussion period or rejected with a reason through the votes bot's !提案 受理 / !提案 驳回.
"use strict";

(function () {
  const L = window.Linli;
  const { api, el, t, $ } = L;

  function stage(p) {
    const word = t("proposal_" + p.status);
    if (p.status === "accepted" && p.discussion_until) return word + "（" + t("until") + " " + new Date(p.discussion_until).toLocaleString() + "）";
    if (p.status === "rejected" && p.reason) return word + "：" + p.reason;
    return word;
  }

  async function decide(p, action, body, item) {
    const said = item.querySelector(".said");
    try {
      const path = "proposals/" + encodeURIComponent(p.compound) + "/" + p.number + "/" + action;
      const answer = await L.act(path, body);
      await showProposals();
      L.status(answer.said.join(" "));
    } catch (e) {
      said.className = "said error";
      said.textContent = e.message;
    }
  }

  function proposalItem(p) {
    const item = el("li", { class: "ticket proposal", "data-compound": p.compound, "data-number": String(p.number) }, [
      el("div", {}, [
        el("span", { class: "number", text: "#" + p.number }),
        el("span", { class: "stage", text: p.compound_name + " · " + stage(p) }),
      ]),
      el("p", { class: "text", text: p.text }),
      p.proposer ? el("p", { text: t("proposer") + "：" + p.proposer }) : null,
      el("p", { class: "said" }),
    ]);
    if (p.status === "pending") {
      const accept = el("button", { type: "button", class: "act-accept", text: t("accept_proposal") });
      const reject = el("button", { type: "button", class: "secondary act-reject", text: t("reject_proposal") });
      accept.addEventListener("click", () => L.askThen(item, t("discussion_period"), "period", true, (v) => decide(p, "accept", v ? { period: v } : {}, item)));
      reject.addEventListener("click", () => L.askThen(item, t("proposal_reason"), "reason", false, (v) => decide(p, "reject", { reason: v }, item)));
      item.appendChild(el("div", { class: "actions" }, [accept, reject]));
    }
    return item;
  }

  async function showProposals() {
    const data = await api("GET", "proposals");
    const list = $("proposals");
    list.textContent = "";
    for (const p of data.proposals) list.appendChild(proposalItem(p));
    $("no-proposals").hidden = data.proposals.length > 0;
  }

  L.register({
    key: "proposals", label: "proposals", section: "proposals-view", refresh: true,
    roles: ["residents_committee"],
    show: showProposals,
  });
})();
