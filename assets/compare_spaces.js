// Compare-spaces panel: reduce a lasso/box selection on the overlap map to the selected subjects'
// row ids (the subjects trace's customdata) before anything goes to the server, as the explorer does.
window.dash_clientside = Object.assign({}, window.dash_clientside, {
    compareSpaces: {
        selectionFromMap: function (selected) {
            if (!selected || !selected.points) {
                return window.dash_clientside.no_update; // a double-click clears the lasso outline; the selection stays
            }
            const graph = document.querySelector("#cs-map .js-plotly-plot");
            const traces = graph && graph._fullData ? graph._fullData : [];
            const rows = new Set();
            for (const point of selected.points) {
                if (point.curveNumber !== 0) {
                    continue; // trails are not subjects
                }
                let row = point.customdata;
                if (row === undefined && traces[0] && traces[0].customdata) {
                    row = traces[0].customdata[point.pointNumber];
                }
                if (Array.isArray(row)) {
                    row = row[0];
                }
                if (row !== undefined && row !== null) {
                    rows.add(Number(row));
                }
            }
            return { rows: Array.from(rows), source: "compare-spaces-map" };
        },
    },
});
