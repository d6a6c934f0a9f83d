// Accuracy panel: the subgroup table is one component (app/panels/accuracy/tables.py), so its headers' sort
// buttons are plain buttons; a click (or Enter/Space, which buttons turn into a click) names the column to the server.
(function () {
    "use strict";

    document.addEventListener("click", function (event) {
        const button = event.target && event.target.closest ? event.target.closest("#accuracy-subgroup-table button.accuracy-sort[data-column]") : null;
        if (button) {
            window.dash_clientside.set_props("accuracy-sort-click", { data: { column: button.dataset.column, at: Date.now() } });
        }
    });
})();
