// Reduce Plotly's selectedData (every point, with coordinates) to the selected subjects' row ids
// before anything goes to the server: a 80k-point selection then costs a small list of integers.
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
            const rows = new Set();
            for (const point of selected.points) {
                const row = Array.isArray(point.customdata) ? point.customdata[0] : point.customdata;
                if (row !== undefined && row !== null) {
                    rows.add(row);
                }
            }
            return { rows: Array.from(rows), source: source };
        },
    },
});
