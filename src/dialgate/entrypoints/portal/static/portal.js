// Small progressive enhancements for the portal; every form works without them.
(function () {
  "use strict";

  function fold(text) {
    return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }

  function updateCountries(root) {
    var all = root.querySelector("#countries-all");
    var picked = [];
    root.querySelectorAll("details[data-region]").forEach(function (region) {
      var boxes = region.querySelectorAll("li input[type=checkbox]");
      var checked = 0, shown = 0, shownChecked = 0;
      boxes.forEach(function (box) {
        var visible = !box.closest("li").hidden;
        if (visible) { shown += 1; }
        if (box.checked) {
          checked += 1; picked.push(box.dataset.name);
          if (visible) { shownChecked += 1; }
        }
      });
      var count = region.querySelector("[data-count]");
      if (count) { count.textContent = "(" + checked + "/" + boxes.length + ")"; }
      // "Select All" speaks for the countries the search shows.
      var selectAll = region.querySelector("[data-select-all]");
      if (selectAll) {
        selectAll.checked = shown > 0 && shownChecked === shown;
        selectAll.indeterminate = shownChecked > 0 && shownChecked < shown;
      }
    });
    var summary = root.querySelector("#countries-summary");
    if (summary) {
      if (all && all.checked) {
        summary.textContent = root.dataset.allLabel;
      } else {
        picked.sort(function (a, b) { return a.localeCompare(b); });
        summary.textContent = root.dataset.countLabel.replace("%n", picked.length) +
          (picked.length ? " — " + picked.join(", ") : "");
      }
    }
    root.classList.toggle("all-selected", !!(all && all.checked));
  }

  function initCountries(root) {
    if (root.dataset.ready) { return; }
    root.dataset.ready = "1";
    root.addEventListener("change", function (event) {
      var target = event.target;
      if (target.matches("[data-select-all]")) {
        // Only the countries the search shows: "Select All" after "niger" means those.
        target.closest("details").querySelectorAll("li input[type=checkbox]").forEach(function (box) {
          if (!box.closest("li").hidden) { box.checked = target.checked; }
        });
      }
      if (target.matches("li input[type=checkbox], [data-select-all]")) {
        var all = root.querySelector("#countries-all");
        if (all) { all.checked = false; }
      }
      updateCountries(root);
    });
    var search = root.querySelector("#country-search");
    if (search) {
      search.addEventListener("input", function () {
        var query = fold(search.value.trim());
        // "44" or "+44" is a calling code: match it exactly, not inside other numbers.
        var code = /^\+?\d+$/.test(query) ? query.replace("+", "") : null;
        root.querySelectorAll("details[data-region]").forEach(function (region) {
          var matches = 0;
          region.querySelectorAll("li[data-search]").forEach(function (item) {
            var hit = !query || (code !== null ? item.dataset.cc === code
                                               : item.dataset.search.indexOf(query) !== -1);
            item.hidden = !hit;
            if (hit) { matches += 1; }
          });
          region.hidden = !!query && matches === 0;
          if (query) { region.open = matches > 0; }
        });
        updateCountries(root);
      });
      // Enter in the search box must not submit the whole tab.
      search.addEventListener("keydown", function (event) {
        if (event.key === "Enter") { event.preventDefault(); }
      });
    }
    updateCountries(root);
  }

  function initIntlWarning(scope) {
    var box = scope.querySelector("#f-allow_international");
    var warning = scope.querySelector("#intl-warning");
    if (!box || !warning) { return; }
    box.addEventListener("change", function () { warning.hidden = box.checked; });
  }

  // A routing target: only the list of the chosen type is shown (and submitted as the choice).
  function initTargetPicker(root) {
    if (root.dataset.ready) { return; }
    root.dataset.ready = "1";
    var type = root.querySelector("[data-target-type]");
    function show() {
      root.querySelectorAll("[data-for-type]").forEach(function (choice) {
        choice.hidden = choice.dataset.forType !== type.value;
      });
    }
    type.addEventListener("change", show);
    show();
  }

  function init(scope) {
    scope.querySelectorAll("[data-countries]").forEach(initCountries);
    scope.querySelectorAll("[data-target-picker]").forEach(initTargetPicker);
    initIntlWarning(scope);
    scope.querySelectorAll("form[data-confirm]").forEach(function (form) {
      if (form.dataset.ready) { return; }
      form.dataset.ready = "1";
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:afterSwap", function (event) {
    init(document);
    // Announce the outcome and move focus to it, so keyboard and screen reader users hear it.
    var target = document.querySelector("#error-summary") || document.querySelector("#saved");
    if (target) { target.setAttribute("tabindex", "-1"); target.focus(); }
  });
})();
