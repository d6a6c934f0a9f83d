// Reduce Plotly's selectedData to the shape the user drew (box corners or lasso vertices, in the
// view's data coordinates) plus which view it was drawn on: what goes to the server stays a few
// hundred bytes however many points are inside. The server resolves it on the coordinates it holds.
//
// Draw a view from what the server sent (view-N-spec): its point trace carries one colour code per
// subject and the 256 codes' colours (meta.palette); here it becomes one trace per code, each of one colour. Plotly.js
// turns a per-point colour array into a colour string and parses it back, point by point, on every
// repaint (2.2-2.7 s for three views of 100,000 points in headless Chromium here, against 0.6-0.9 s
// split by colour); splitting takes milliseconds. Faded codes draw first, so a highlighted cohort
// lies on top of everyone else, and smaller groups over larger ones. Each point keeps its subject's row as customdata.
const TYPED_ARRAYS = {
    f4: Float32Array, f8: Float64Array, i1: Int8Array, u1: Uint8Array, i2: Int16Array, u2: Uint16Array, i4: Int32Array, u4: Uint32Array,
};

function base64Bytes(text) {
    // The browser's own decoder where it has one (Chromium 140+, Firefox 133+, Safari 18.2+): the loop below took
    // about 60 ms of every first load and repaint at 100,000 subjects (three views' coordinates, codes and rows).
    // The explorer's views come in base64's URL-safe alphabet, prebuilt figures (Compare spaces' map) in the standard one.
    if (typeof Uint8Array.fromBase64 === "function") {
        return Uint8Array.fromBase64(text, { alphabet: /[+/]/.test(text) ? "base64" : "base64url" });
    }
    const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i += 1) {
        bytes[i] = binary.charCodeAt(i);
    }
    return bytes;
}

function decoded(value) {
    // A typed array as the server sends it ({dtype, bdata}: base64, see app/figures/prebuilt.py), or a plain list.
    if (value && typeof value === "object" && typeof value.bdata === "string") {
        return new TYPED_ARRAYS[value.dtype](base64Bytes(value.bdata).buffer);
    }
    return value || [];
}

function colourGroups(trace) {
    const x = decoded(trace.x), y = decoded(trace.y), codes = decoded(trace.marker.color);
    const rows = trace.customdata ? decoded(trace.customdata) : null;
    const { palette, ...meta } = trace.meta; // the palette is read here, not copied onto every group's trace
    const counts = new Int32Array(256);
    for (let i = 0; i < codes.length; i += 1) {
        counts[codes[i]] += 1;
    }
    const present = [];
    for (let code = 0; code < 256; code += 1) {
        if (counts[code] > 0) {
            present.push(code);
        }
    }
    // Faded codes (>= 128) first, then the highlighted ones; within each, the largest group first, so a rare
    // category (AF among 5,000) is drawn over the common one rather than buried under it.
    present.sort((a, b) => (b >= 128) - (a >= 128) || counts[b] - counts[a]);
    const groups = {};
    for (const code of present) {
        groups[code] = { x: new Float32Array(counts[code]), y: new Float32Array(counts[code]), rows: new Int32Array(counts[code]), filled: 0 };
    }
    for (let i = 0; i < codes.length; i += 1) {
        const group = groups[codes[i]], at = group.filled;
        group.x[at] = x[i];
        group.y[at] = y[i];
        group.rows[at] = rows ? rows[i] : i;
        group.filled = at + 1;
    }
    const traces = present.map((code) => Object.assign({}, trace, {
        x: groups[code].x, y: groups[code].y, customdata: groups[code].rows,
        marker: { size: trace.marker.size, color: palette[code] },
        meta: Object.assign({}, meta, { code: code }),
    }));
    // An empty view keeps one empty trace, so its meta (highlight, zoom) still travels.
    return traces.length ? traces : [Object.assign({}, trace, { x: [], y: [], customdata: [], marker: { size: trace.marker.size }, meta: meta })];
}

// The box or lasso a Plotly selection event was drawn with, in the view's data coordinates; null for an event without
// one. Also used by assets/compare_spaces.js for the overlap map.
function drawnShape(selected) {
    if (selected.range && selected.range.x && selected.range.y) {
        return { kind: "box", x: selected.range.x.map(Number), y: selected.range.y.map(Number) };
    }
    if (selected.lassoPoints && selected.lassoPoints.x && selected.lassoPoints.y) {
        return { kind: "lasso", x: selected.lassoPoints.x.map(Number), y: selected.lassoPoints.y.map(Number) };
    }
    return null;
}

function sameSelection(current, source, view, shape) {
    return Boolean(current) && current.source === source && JSON.stringify(current.shape) === JSON.stringify(shape)
        && JSON.stringify(current.view) === JSON.stringify(view);
}

function withUserEdits(layout, graphId) {
    // dcc.Graph hands Plotly a copy of the figure, so a zoom since is not in the server's layout: keep
    // it while the figure has the same uirevision (what uirevision promises). The selection's outline
    // is the server's (a layout shape), not Plotly's own selection: see selection_outline in app/figures/scatter.py.
    const graph = document.querySelector("#" + graphId + " .js-plotly-plot");
    const shown = graph && graph._fullLayout;
    if (!shown || shown.uirevision !== layout.uirevision) {
        return layout;
    }
    const kept = Object.assign({}, layout);
    for (const axis of ["xaxis", "yaxis"]) {
        if (shown[axis] && shown[axis].autorange === false && Array.isArray(shown[axis].range)) {
            kept[axis] = Object.assign({}, layout[axis], { range: shown[axis].range.slice(), autorange: false });
        }
    }
    return kept;
}

// Each default view comes in the page's layout as a picture of its plot area, its points or its density (app/figures/preview.py),
// on screen as soon as the layout is, about 2 s before Plotly has drawn 100,000 points. It is shown only where it pictures what the view will
// draw: on a page opened with no address or with the default view's (its data-query), not on a link to another view. It
// is hidden for good once Plotly has drawn the view over it (or after PREVIEW_GIVE_UP_MS, whatever happened).
const PREVIEW_GIVE_UP_MS = 30000;

function sameAddress(search, other) {
    const pairs = (text) => Array.from(new URLSearchParams(text)).map(([key, value]) => key + "=" + value).sort().join("&");
    return pairs(search) === pairs(other);
}

(function showPreviewsThatApply() {
    const observer = new MutationObserver(() => {
        if (!document.getElementById("view-0")) {
            return;
        }
        observer.disconnect();
        for (const picture of document.querySelectorAll(".view-preview")) {
            if (!window.location.search || sameAddress(window.location.search, picture.dataset.query || "")) {
                picture.classList.add("shown");
            }
        }
    });
    observer.observe(document.documentElement, { childList: true, subtree: true });
})();

function retirePreview(graphId) {
    const picture = document.querySelector('.view-preview[data-view="' + graphId + '"]');
    if (!picture || picture.hidden || picture.dataset.retiring) {
        return;
    }
    if (!picture.classList.contains("shown")) {
        picture.hidden = true; // not shown on this page (a link to another view): nothing to wait for
        return;
    }
    picture.dataset.retiring = "1";
    const started = performance.now();
    const check = () => {
        const graph = document.querySelector("#" + graphId + " .js-plotly-plot");
        if ((graph && graph._fullData && graph._fullData.length) || performance.now() - started > PREVIEW_GIVE_UP_MS) {
            picture.hidden = true;
        } else {
            window.requestAnimationFrame(check);
        }
    };
    window.requestAnimationFrame(check);
}

window.dash_clientside = Object.assign({}, window.dash_clientside, {
    explorer: {
        // With the figure, the view's config gets the screen's own pixel ratio for WebGL (1 or 2): Plotly draws
        // WebGL at twice the CSS resolution whatever the screen. With software WebGL (no GPU), three views of
        // 100,000 points took 0.9-1.2 s to draw at a ratio of 2 and 0.5-0.8 s at 1, on a 1x screen that shows the same.
        drawView: function (spec, config) {
            const noUpdate = window.dash_clientside.no_update;
            if (!spec || !spec.data) {
                return [noUpdate, noUpdate];
            }
            const ratio = Math.min(2, Math.max(1, Math.round(window.devicePixelRatio || 1)));
            const sharp = config && config.plotGlPixelRatio === ratio ? noUpdate : Object.assign({}, config, { plotGlPixelRatio: ratio });
            const data = [];
            for (const trace of spec.data) {
                if (trace.meta && trace.meta.colour_groups) {
                    data.push(...colourGroups(trace));
                } else {
                    data.push(trace);
                }
            }
            const graphId = dash_clientside.callback_context.outputs_list[0].id;
            retirePreview(graphId);
            return [{ data: data, layout: withUserEdits(spec.layout, graphId) }, sharp];
        },
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
            const shape = drawnShape(selected);
            if (shape === null) {
                // An event without a shape (e.g. Plotly re-emitting after a repaint) changes nothing.
                return window.dash_clientside.no_update;
            }
            if (sameSelection(current, source, views[source], shape)) {
                // Plotly re-emits the outline it keeps after a repaint: the same selection, not a new one.
                return window.dash_clientside.no_update;
            }
            return { source: source, view: views[source], shape: shape, at: at };
        },
        // A selection drawn on a projection that was not computed yet (a link opened before its t-SNE existed) was
        // ignored everywhere; once a view reports that projection drawn (its pending store emptied), the selection is
        // sent again, unchanged but for its time, so every view, the count and the summary resolve it.
        selectionWhenProjected: function (pending0, pending1, selection, seen) {
            const noUpdate = window.dash_clientside.no_update;
            const now = [pending0 || null, pending1 || null];
            const before = Array.isArray(seen) ? seen : [null, null];
            const view = selection && selection.shape && selection.view;
            const arrived = before.some((waited, index) => waited && !now[index] && view && view.kind === "latent"
                && waited.space === view.space && waited.method === view.method);
            return [arrived ? Object.assign({}, selection, { at: Date.now() }) : noUpdate, now];
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
