// Kanban: drag a card to another stage's column to move the deal (POST deal_move), or, from the
// keyboard, pick the stage in the card's "move to stage" list. A refused move (stage not in the
// type, no permission) puts the card back and shows the message.
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

  // POST the move; done(ok) runs when the server has answered (ok: the deal is in the stage).
  function postMove(card, stage, done) {
    var body = new URLSearchParams();
    body.set("stage", stage);
    card.classList.add("opacity-50");
    fetch(card.getAttribute("data-move-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json" },
      body: body
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        card.classList.remove("opacity-50");
        if (!response.ok) {
          showError(data.message || response.statusText);
          done(false);
          return;
        }
        document.getElementById("kanban-error").classList.add("d-none");
        done(true);
      });
    }).catch(function () {
      card.classList.remove("opacity-50");
      done(false);
    });
  }

  function cardsOf(stage) {
    return document.querySelector('.kanban-cards[data-stage="' + CSS.escape(stage) + '"]');
  }

  // After a drag: the card is already in the new column; put it back if the move is refused.
  function dropped(event) {
    var card = event.item;
    if (event.from === event.to) { return; }
    var back = function () {
      event.from.insertBefore(card, event.from.children[event.oldIndex] || null);
      syncSelect(card);
      recount();
    };
    if (!card.getAttribute("data-move-url")) { back(); return; }
    syncSelect(card);
    recount();
    postMove(card, event.to.getAttribute("data-stage"), function (ok) { if (!ok) { back(); } });
  }

  // The card's stage list shows the column it is in.
  function syncSelect(card) {
    var select = card.querySelector("select[data-move]");
    if (select) { select.value = card.parentNode.getAttribute("data-stage"); }
  }

  // The keyboard's way: a list of stages on each card the user may move.
  function addStageSelect(card, stages, label) {
    var select = document.createElement("select");
    select.className = "form-select form-select-sm mt-1";
    select.setAttribute("data-move", "");
    select.setAttribute("aria-label", label + ": " + card.querySelector("a").textContent);
    stages.forEach(function (stage) {
      var option = document.createElement("option");
      option.value = stage.value;
      option.textContent = stage.label;
      select.appendChild(option);
    });
    select.value = card.parentNode.getAttribute("data-stage");
    select.addEventListener("change", function () {
      var from = card.parentNode;
      var to = cardsOf(select.value);
      if (!to || to === from) { return; }
      select.disabled = true;
      postMove(card, select.value, function (ok) {
        select.disabled = false;
        if (ok) {
          to.insertBefore(card, to.firstChild);
          recount();
        } else {
          select.value = from.getAttribute("data-stage");
        }
        select.focus();
      });
    });
    card.querySelector(".card-body").appendChild(select);
  }

  document.addEventListener("DOMContentLoaded", function () {
    // Another deal type is another board: show it at once.
    var typeSelect = document.querySelector("#kanban-filter select[name=deal_type]");
    if (typeSelect) {
      typeSelect.addEventListener("change", function () { typeSelect.form.submit(); });
    }
    var board = document.getElementById("kanban");
    var stages = [];
    document.querySelectorAll(".kanban-column").forEach(function (column) {
      column.setAttribute("data-shown", column.querySelectorAll(".kanban-card").length);
      stages.push({
        value: column.getAttribute("data-stage"),
        label: column.querySelector("strong").textContent
      });
    });
    document.querySelectorAll(".kanban-card[data-move-url]:not([data-move-url=''])")
      .forEach(function (card) {
        addStageSelect(card, stages, board.getAttribute("data-move-label"));
      });
    if (typeof Sortable === "undefined") { return; }
    document.querySelectorAll(".kanban-cards").forEach(function (list) {
      Sortable.create(list, {
        group: "deals",
        animation: 150,
        draggable: ".kanban-card[data-move-url]:not([data-move-url=''])",
        filter: "select",
        preventOnFilter: false,
        onEnd: dropped
      });
    });
  });
})();
