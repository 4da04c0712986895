// Notices' reach per building, as `!通知 回执` counts it, with each building's unreached
// households: the visit list a 楼长 takes round, printable on its own.
"use strict";

(function () {
  const L = window.Linli;
  const { api, el, t, $ } = L;

  function noticeItem(n) {
    const buildings = n.buildings.map((b) => el("div", { class: "building", "data-building": b.building }, [
      el("p", { class: "clock", text: b.building + t("building") + "：" + t("reached") + " " + b.reached + " / " + b.households + " " + t("households_word") }),
      b.unreached.length ? el("p", { class: "visits", text: t("unreached") + "：" + b.unreached.join("、") }) : null,
    ]));
    const print = el("button", { type: "button", class: "secondary act-print", text: t("print_visits") });
    const item = el("li", { class: "ticket notice", "data-compound": n.compound, "data-number": String(n.number) }, [
      el("div", {}, [
        el("span", { class: "number", text: "#" + n.number }),
        el("span", { text: n.compound_name + " · " + t("reached") + " " + n.reached + " / " + n.households + " " + t("households_word") }),
      ]),
      el("p", { class: "text", text: n.text }),
      ...buildings,
      el("div", { class: "actions" }, [print]),
    ]);
    print.addEventListener("click", () => {
      item.classList.add("print-me");
      document.body.classList.add("printing");
      window.print();
      item.classList.remove("print-me");
      document.body.classList.remove("printing");
    });
    return item;
  }

  async function showNotices() {
    const data = await api("GET", "notices");
    const list = $("notices");
    list.textContent = "";
    for (const n of data.notices) list.appendChild(noticeItem(n));
    $("no-notices").hidden = data.notices.length > 0;
  }

  L.register({
    key: "notices", label: "notices", section: "notices-view", refresh: true,
    roles: ["residents_committee", "property_staff", "property_manager", "owners_committee", "party_branch", "police", "observer"],
    show: showNotices,
  });
})();
