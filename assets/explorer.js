// Reduce Plotly's selectedData (every point, with coordinates) to the selected subjects' row ids
// before anything goes to the server: an 80k-point selection then costs a small list of integers.
// Row ids are each trace's customdata; WebGL traces sent as typed arrays may leave it out of the
// event's points, so it is read from the plot's decoded data by trace and point number instead.
window.dash_clientside = Object.assign({}, window.dash_clientside, {
    explorer: {
        selectionFromViews: function () {
            const triggered = dash_clientside.callback_context.triggered.map((t) => t.prop_id);
            if (triggered.length === 0 || triggered.some((id) => id.startsWith("clear-selection"))) {
                return null;
            }
            const views = ["view-0", "view-1", "view-2"];
            const source = triggered[0].split(".")[0];
            const selected = arguments[views.indexOf(source)];
            if (!selected || !selected.points) {
                return null; // a double-click clears the selection
            }
            const graph = document.querySelector("#" + source + " .js-plotly-plot");
            const traces = graph && graph._fullData ? graph._fullData : [];
            const rows = new Set();
            for (const point of selected.points) {
                let row = point.customdata;
                if (row === undefined && traces[point.curveNumber] && traces[point.curveNumber].customdata) {
                    row = traces[point.curveNumber].customdata[point.pointNumber];
                }
                if (Array.isArray(row)) {
                    row = row[0];
                }
                if (row !== undefined && row !== null) {
                    rows.add(Number(row));
                }
            }
            return { rows: Array.from(rows), source: source };
        },
    },
});
