/* recsec reports, no dependencies.
 * Sorting: click a column header of a table.sortable to sort its rows. Header
 * cells carry data-col (the column index in body rows) and optionally
 * data-type="text"; body cells may carry data-value (the sort key). Empty
 * values always sort last; ties keep their current order.
 * Column chooser: a checkbox with data-mcol="N" shows or hides every header
 * and body cell of the leaderboard with the same data-mcol (class "off"). */
(function () {
  "use strict";

  function keyOf(row, col, type) {
    var cell = row.cells[col];
    if (!cell) { return null; }
    var raw = cell.getAttribute("data-value");
    if (raw === null) { raw = cell.textContent; }
    raw = raw.trim();
    if (raw === "") { return null; }
    if (type === "text") { return raw.toLowerCase(); }
    var num = parseFloat(raw);
    return isNaN(num) ? null : num;
  }

  function sortBy(table, th) {
    var col = parseInt(th.getAttribute("data-col"), 10);
    var type = th.getAttribute("data-type") || "number";
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    var headers = table.querySelectorAll("th[data-col]");
    for (var h = 0; h < headers.length; h++) { headers[h].removeAttribute("aria-sort"); }
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");

    var body = table.tBodies[0];
    var keyed = [];
    for (var i = 0; i < body.rows.length; i++) {
      var row = body.rows[i];
      keyed.push({ row: row, key: keyOf(row, col, type), index: i });
    }
    keyed.sort(function (a, b) {
      if (a.key === null || b.key === null) {
        if (a.key === b.key) { return a.index - b.index; }
        return a.key === null ? 1 : -1;
      }
      var c = type === "text" ? a.key.localeCompare(b.key) : a.key - b.key;
      if (c === 0) { return a.index - b.index; }
      return ascending ? c : -c;
    });
    for (var k = 0; k < keyed.length; k++) { body.appendChild(keyed[k].row); }
  }

  function init() {
    var tables = document.querySelectorAll("table.sortable");
    for (var t = 0; t < tables.length; t++) {
      var table = tables[t];
      if (!table.tBodies.length) { continue; }
      var headers = table.querySelectorAll("th[data-col]");
      for (var h = 0; h < headers.length; h++) {
        var th = headers[h];
        th.tabIndex = 0;
        th.classList.add("sort-ready");
        th.addEventListener("click", sortBy.bind(null, table, th));
        th.addEventListener("keydown", function (table, th, event) {
          if (event.key === "Enter" || event.key === " ") { event.preventDefault(); sortBy(table, th); }
        }.bind(null, table, th));
      }
      table.setAttribute("data-sortable", "ready");
    }
  }

  function initChooser() {
    var boxes = document.querySelectorAll("details.chooser input[data-mcol]");
    var count = document.querySelector("details.chooser .shown-count");
    function update(box) {
      var cells = document.querySelectorAll('table.leaderboard [data-mcol="' + box.getAttribute("data-mcol") + '"]');
      for (var i = 0; i < cells.length; i++) { cells[i].classList.toggle("off", !box.checked); }
      if (count) { count.textContent = document.querySelectorAll("details.chooser input[data-mcol]:checked").length; }
    }
    for (var b = 0; b < boxes.length; b++) {
      boxes[b].addEventListener("change", update.bind(null, boxes[b]));
      update(boxes[b]);  // a restored page (back button) may bring back other checkbox states
    }
  }

  function start() { init(); initChooser(); }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
