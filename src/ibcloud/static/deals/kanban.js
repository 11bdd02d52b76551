// Kanban: drag a card to another stage's column to move the deal (POST deal_move). A refused
// move (stage not in the type, no permission) puts the card back and shows the message.
(function () {
  "use strict";
  function csrfToken() {
    var headers = document.body.getAttribute("hx-headers");
    try { return JSON.parse(headers)["X-CSRFToken"]; } catch (e) { return ""; }
  }

  function showError(text) {
    var box = document.getElementById("kanban-error");
    box.textContent = text;
    box.classList.remove("d-none");
  }

  function recount() {
    document.querySelectorAll(".kanban-column").forEach(function (column) {
      var badge = column.querySelector("[data-count]");
      var shown = column.querySelectorAll(".kanban-card").length;
      var delta = shown - Number(column.getAttribute("data-shown") || shown);
      badge.textContent = Number(badge.textContent) + delta;
      column.setAttribute("data-shown", shown);
    });
  }

  function move(event) {
    var card = event.item;
    var url = card.getAttribute("data-move-url");
    var stage = event.to.getAttribute("data-stage");
    if (event.from === event.to) { return; }
    var back = function () {
      event.from.insertBefore(card, event.from.children[event.oldIndex] || null);
      recount();
    };
    if (!url) { back(); return; }
    var body = new URLSearchParams();
    body.set("stage", stage);
    card.classList.add("opacity-50");
    fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json" },
      body: body
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        card.classList.remove("opacity-50");
        if (!response.ok) {
          back();
          showError(data.message || response.statusText);
          return;
        }
        card.setAttribute("data-stage", data.stage);
        document.getElementById("kanban-error").classList.add("d-none");
        recount();
      });
    }).catch(function () {
      card.classList.remove("opacity-50");
      back();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".kanban-column").forEach(function (column) {
      column.setAttribute("data-shown", column.querySelectorAll(".kanban-card").length);
    });
    if (typeof Sortable === "undefined") { return; }
    document.querySelectorAll(".kanban-cards").forEach(function (list) {
      Sortable.create(list, {
        group: "deals",
        animation: 150,
        draggable: ".kanban-card[data-move-url]:not([data-move-url=''])",
        onEnd: move
      });
    });
  });
})();
