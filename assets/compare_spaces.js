// Compare-spaces panel: reduce the overlap map's clicks and lasso/box selections to subjects' row ids
// (the subjects trace's customdata) before anything goes to the server, as the explorer does; and keep
// the range brushed on the overlap histogram through Plotly's redraws.
(function () {
    "use strict";

    // A point's row id: its customdata, else (WebGL traces leave it out of event data) the trace's own.
    function rowOf(point, traces) {
        if (!point || point.curveNumber !== 0) {
            return null; // trails are not subjects
        }
        let row = point.customdata;
        if ((row === undefined || row === null) && traces[0] && traces[0].customdata) {
            row = traces[0].customdata[point.pointNumber];
        }
        if (Array.isArray(row)) {
            row = row[0];
        }
        return row === undefined || row === null ? null : Number(row);
    }

    function mapTraces() {
        const graph = document.querySelector("#cs-map .js-plotly-plot");
        return graph && graph._fullData ? graph._fullData : [];
    }

    // A subject list's row (app/panels/compare_spaces/tables.py: one escaped HTML table per list, not a component per
    // cell) focuses its subject when clicked, or on Enter or Space once reached with Tab.
    function chooseListRow(event) {
        const row = event.target && event.target.closest ? event.target.closest("tr.cs-row[data-row]") : null;
        if (!row || (event.type === "keydown" && event.key !== "Enter" && event.key !== " ")) {
            return;
        }
        event.preventDefault();
        window.dash_clientside.set_props("cs-row-click", { data: { list: row.dataset.list, row: Number(row.dataset.row), at: Date.now() } });
    }
    document.addEventListener("click", chooseListRow);
    document.addEventListener("keydown", chooseListRow);

    window.dash_clientside = Object.assign({}, window.dash_clientside, {
        compareSpaces: {
            selectionFromMap: function (selected) {
                if (!selected || !selected.points) {
                    return window.dash_clientside.no_update; // a double-click clears the lasso outline; the selection stays
                }
                const traces = mapTraces();
                if (!traces[0] || traces[0].type !== "scattergl") {
                    return window.dash_clientside.no_update; // a density map (a large cohort) has cells, not subjects, to select
                }
                const rows = new Set();
                for (const point of selected.points) {
                    const row = rowOf(point, traces);
                    if (row !== null) {
                        rows.add(row);
                    }
                }
                return { rows: Array.from(rows), source: "compare-spaces-map" };
            },

            // The clicked subject's row: it becomes the focused subject (the selection is left as it is).
            subjectFromMap: function (click) {
                const points = click && click.points ? click.points : [];
                const row = points.length ? rowOf(points[0], mapTraces()) : null;
                return row === null ? window.dash_clientside.no_update : { row: row, at: Date.now() };
            },

            // The brushed overlap range. Plotly fires a second selection event without a range after the
            // figure is drawn again; that echo is ignored. A double-click (no selectedData) clears the brush.
            brushFromHistogram: function (selected) {
                if (!selected) {
                    return null;
                }
                if (selected.range && Array.isArray(selected.range.x) && selected.range.x.length === 2) {
                    return { range: { x: selected.range.x.map(Number) } };
                }
                return window.dash_clientside.no_update;
            },

            // "Select the subjects shown" waits for a brushed range: unbrushed, the map shows everyone, and selecting
            // everyone one by one is not a selection anyone means.
            nothingBrushed: function (brushed) {
                return !(brushed && brushed.range && Array.isArray(brushed.range.x) && brushed.range.x.length === 2);
            },
        },
    });
})();
