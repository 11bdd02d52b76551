// Deal form: the stage list follows the chosen type; the linked project and the investors are
// searched through the catalog API as the user types (there may be tens of thousands).
(function () {
  "use strict";
  function stageLists() {
    var node = document.getElementById("deal-stage-lists");
    return node ? JSON.parse(node.textContent) : {};
  }

  function syncStages(typeSelect, stageSelect, lists) {
    var stages = lists[typeSelect.value] || [];
    var current = stageSelect.value;
    stageSelect.innerHTML = "";
    var keep = false;
    stages.forEach(function (pair) {
      var option = document.createElement("option");
      option.value = pair[0];
      option.textContent = pair[1];
      if (pair[0] === current) { option.selected = true; keep = true; }
      stageSelect.appendChild(option);
    });
    if (!keep && stageSelect.options.length) { stageSelect.options[0].selected = true; }
  }

  function remoteSelect(select) {
    if (typeof TomSelect === "undefined" || select.tomselect) { return; }
    var url = select.getAttribute("data-remote");
    new TomSelect(select, {
      plugins: select.multiple ? ["remove_button"] : [],
      valueField: "id",
      labelField: "name",
      searchField: ["name", "full_name"],
      maxOptions: 50,
      loadThrottle: 300,
      load: function (query, callback) {
        if (!query) { callback(); return; }
        fetch(url + "?page_size=20&q=" + encodeURIComponent(query), {
          credentials: "same-origin",
          headers: { "Accept": "application/json" }
        }).then(function (response) { return response.ok ? response.json() : { results: [] }; })
          .then(function (data) { callback(data.results || []); })
          .catch(function () { callback(); });
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var typeSelect = document.querySelector("[data-type-select]");
    var stageSelect = document.querySelector("[data-stage-select]");
    if (typeSelect && stageSelect) {
      var lists = stageLists();
      syncStages(typeSelect, stageSelect, lists);
      typeSelect.addEventListener("change", function () {
        stageSelect.value = "";
        syncStages(typeSelect, stageSelect, lists);
      });
    }
    document.querySelectorAll("select[data-remote]").forEach(remoteSelect);
  });
})();
