// Shared behaviour of the shell: confirmations, select-all, tom-select on multi-selects, the
// column chooser's order arrows.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var target = event.target.closest("[data-confirm]");
    if (target && !window.confirm(target.getAttribute("data-confirm"))) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);
  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-select-all]")) {
      var table = event.target.closest("table");
      table.querySelectorAll("input[name=pk]").forEach(function (box) {
        box.checked = event.target.checked;
      });
    }
  });
  // Column chooser: move a column up or down the list; the form sends the ticked ones in order.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-column-move]");
    if (!button) { return; }
    var row = button.closest("[data-column]");
    if (button.getAttribute("data-column-move") === "up" && row.previousElementSibling) {
      row.parentNode.insertBefore(row, row.previousElementSibling);
    } else if (button.getAttribute("data-column-move") === "down" && row.nextElementSibling) {
      row.parentNode.insertBefore(row.nextElementSibling, row);
    }
    button.focus();
  });
  function enhance(root) {
    if (typeof TomSelect === "undefined") { return; }
    root.querySelectorAll("select[multiple]:not(.tomselected):not([data-plain])").forEach(function (el) {
      new TomSelect(el, { plugins: ["remove_button"], maxOptions: 500 });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { enhance(document); });
  document.body && document.body.addEventListener("htmx:afterSwap", function (e) { enhance(e.target); });
})();
