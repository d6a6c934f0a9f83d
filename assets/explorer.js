// Reduce Plotly's selectedData to the shape the user drew (box corners or lasso vertices, in the
// view's data coordinates) plus which view it was drawn on: what goes to the server stays a few
// hundred bytes however many points are inside. The server resolves it on the coordinates it holds.
window.dash_clientside = Object.assign({}, window.dash_clientside, {
    explorer: {
        selectionFromViews: function (sel0, sel1, sel2, _clear, space0, method0, space1, method1, clinicalX, clinicalY, current) {
            const triggered = dash_clientside.callback_context.triggered.map((t) => t.prop_id);
            const at = Date.now(); // every new selection (or clearing) is distinct, so stale outlines are dropped
            if (triggered.length === 0) {
                return window.dash_clientside.no_update;
            }
            if (triggered.some((id) => id.startsWith("clear-selection"))) {
                return { source: "clear", at: at };
            }
            const source = triggered[0].split(".")[0];
            const selected = { "view-0": sel0, "view-1": sel1, "view-2": sel2 }[source];
            if (!selected) {
                return { source: source, at: at }; // a double-click clears the selection
            }
            const views = {
                "view-0": { kind: "latent", space: space0, method: method0 },
                "view-1": { kind: "latent", space: space1, method: method1 },
                "view-2": { kind: "clinical", x: clinicalX, y: clinicalY },
            };
            let shape = null;
            if (selected.range && selected.range.x && selected.range.y) {
                shape = { kind: "box", x: selected.range.x.map(Number), y: selected.range.y.map(Number) };
            } else if (selected.lassoPoints && selected.lassoPoints.x && selected.lassoPoints.y) {
                shape = { kind: "lasso", x: selected.lassoPoints.x.map(Number), y: selected.lassoPoints.y.map(Number) };
            }
            if (shape === null) {
                // An event without a shape (e.g. Plotly re-emitting after a repaint) changes nothing.
                return window.dash_clientside.no_update;
            }
            if (current && current.source === source && JSON.stringify(current.shape) === JSON.stringify(shape)
                && JSON.stringify(current.view) === JSON.stringify(views[source])) {
                // Plotly re-emits the outline it keeps after a repaint: the same selection, not a new one.
                return window.dash_clientside.no_update;
            }
            return { source: source, view: views[source], shape: shape, at: at };
        },
        // A zoom or pan of a view above the density threshold (its first trace's meta says it follows
        // zoom), reduced to the axis ranges it now shows and the figure revision they belong to; a
        // double-click back to the full extent sends no ranges. Other relayouts (a tool picked, an
        // outline drawn) send nothing, nor does any view that draws every point.
        viewportFromRelayout: function (relayout, graphId) {
            const noUpdate = window.dash_clientside.no_update;
            if (!relayout || !Object.keys(relayout).some((key) => /^[xy]axis\.(range|autorange)/.test(key))) {
                return noUpdate;
            }
            const graph = document.querySelector("#" + graphId + " .js-plotly-plot");
            if (!graph || !graph._fullLayout || !graph.data || !graph.data.length || !(graph.data[0].meta || {}).follows_zoom) {
                return noUpdate;
            }
            const layout = graph._fullLayout;
            if (layout.xaxis.autorange && layout.yaxis.autorange) {
                return { revision: layout.uirevision };
            }
            return { revision: layout.uirevision, x: layout.xaxis.range.map(Number), y: layout.yaxis.range.map(Number) };
        },
    },
});
