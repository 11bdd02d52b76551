// Shared behaviour of the shell: confirmations, select-all, tom-select on multi-selects.
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
  function enhance(root) {
    if (typeof TomSelect === "undefined") { return; }
    root.querySelectorAll("select[multiple]:not(.tomselected):not([data-plain])").forEach(function (el) {
      new TomSelect(el, { plugins: ["remove_button"], maxOptions: 500 });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { enhance(document); });
  document.body && document.body.addEventListener("htmx:afterSwap", function (e) { enhance(e.target); });
})();
