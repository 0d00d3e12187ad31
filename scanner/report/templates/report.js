// logsigma report filters: show the hits of the chosen levels and rule; no network, no eval.
(function () {
  "use strict";
  var hits = Array.prototype.slice.call(document.querySelectorAll(".hit"));
  var levelBoxes = Array.prototype.slice.call(document.querySelectorAll("input[data-filter-level]"));
  var ruleSelect = document.getElementById("filter-rule");
  var shown = document.getElementById("shown-count");

  function apply() {
    var levels = {};
    levelBoxes.forEach(function (box) { levels[box.getAttribute("data-filter-level")] = box.checked; });
    var rule = ruleSelect ? ruleSelect.value : "";
    var count = 0;
    hits.forEach(function (row) {
      var visible = levels[row.getAttribute("data-level")] !== false &&
        (rule === "" || row.getAttribute("data-rule") === rule);
      row.hidden = !visible;
      if (visible) { count += 1; }
    });
    if (shown) { shown.textContent = String(count); }
  }

  levelBoxes.forEach(function (box) { box.addEventListener("change", apply); });
  if (ruleSelect) { ruleSelect.addEventListener("change", apply); }
  Array.prototype.slice.call(document.querySelectorAll("a[data-show-rule]")).forEach(function (link) {
    link.addEventListener("click", function () {
      if (ruleSelect) { ruleSelect.value = link.getAttribute("data-show-rule"); apply(); }
    });
  });
  apply();
})();
