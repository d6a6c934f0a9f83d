// Compare-spaces panel: reduce the overlap map's clicks and lasso/box selections to what the server needs (a shape and
// the frame it was drawn on, a subject's row), as the explorer does; and keep
// the range brushed on the overlap histogram through Plotly's redraws.
(function () {
    "use strict";

    const MAP = "compare-spaces-map";

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

    // The frame the map shows, or -1. The animation puts a frame's coordinates in the subjects' trace, and they stay
    // there when the slider's mark does not (picking a tool from the modebar sets the mark back to the first frame
    // without moving the points), so the coordinates themselves are compared: the very arrays drawMap made.
    function shownFrame(graph) {
        const frames = (graph._transitionData || {})._frames || [];
        const shown = graph.data && graph.data[0];
        const same = (a, b) => a === b || Boolean(a && b && a.length === b.length && a.every((value, i) => Object.is(value, b[i])));
        for (let index = 0; shown && index < frames.length; index += 1) {
            const moved = frames[index].data && frames[index].data[0];
            if (moved && same(moved.x, shown.x) && same(moved.y, shown.y)) {
                return index;
            }
        }
        return -1;
    }

    // One frame of the A → B animation: the subjects `fraction` of the way, in double precision rounded to float32,
    // exactly as app.core.alignment.transition_frame works it out when the server resolves a shape drawn on it.
    function between(start, end, fraction) {
        const moved = new Float32Array(start.length);
        for (let i = 0; i < start.length; i += 1) {
            moved[i] = (1 - fraction) * start[i] + fraction * end[i];
        }
        return moved;
    }

    // The slider's mark and the selection's outline follow the points. The animation moves them by writing a frame's
    // coordinates into the very trace objects Dash holds as the figure, while the mark and the outline's visibility live in
    // a copy of the layout; so when dcc.Graph drew the figure again (a modebar tool picked, a zoom, a new selection), the
    // mark went back to A's frame with the points still on B's. After each such redraw the mark is set to the frame shown,
    // and the server's outline (app.panels.compare_spaces.views.highlight_patch) shown only on the frame it was drawn on.
    function followShownFrame(graph) {
        const slider = (graph._fullLayout.sliders || [])[0];
        const frame = shownFrame(graph);
        const update = {};
        if (slider && frame >= 0 && slider.active !== frame) {
            update["sliders[0].active"] = frame;
        }
        const shapes = graph.layout.shapes || [];
        const outline = shapes.findIndex((shape) => shape && shape.name === "selection");
        if (outline >= 0) {
            const visible = frame >= 0 && frame === ((graph.layout.meta || {}).outline_frame);
            if ((shapes[outline].visible !== false) !== visible) {
                update[`shapes[${outline}].visible`] = visible;
            }
        }
        if (Object.keys(update).length) {
            window.Plotly.relayout(graph, update);
        }
    }

    // Plotly's own outline of a box or lasso (the server draws its own in its place, except for a brushed map's rows-only
    // lasso) is drawn in the coordinates of the frame it was drawn on: once the points move to another frame it would
    // outline a region that did not choose them, so it goes (the chosen subjects stay highlighted).
    function dropOutline(graph) {
        if ((graph._fullLayout.selections || []).length) {
            window.Plotly.relayout(graph, { selections: [] });
        }
    }

    // Both of the above, bound once to the map's graph (which outlives every figure drawn in it).
    function followAnimations(triesLeft) {
        const graph = document.querySelector("#cs-map .js-plotly-plot");
        if (graph && typeof graph.on === "function") {
            if (!graph.followsAnimations) {
                graph.followsAnimations = true;
                graph.on("plotly_react", () => followShownFrame(graph));
                graph.on("plotly_animated", () => dropOutline(graph));
            }
        } else if (triesLeft > 0) {
            setTimeout(() => followAnimations(triesLeft - 1), 200); // the graph is drawn after this figure is handed over
        }
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
            // The overlap map from what the server sent (cs-map-spec): A's layout in the subjects' trace, and B's with each
            // frame's share of the way in layout.meta.transition. The frames are drawn here rather than sent, one copy of
            // every subject's coordinates each. Trails belong to A's layout: shown on its frame only. Anything else (a
            // message, a density map) is drawn as it is.
            drawMap: function (spec) {
                followAnimations(25);
                const transition = spec && spec.layout && spec.layout.meta ? spec.layout.meta.transition : null;
                if (!transition) {
                    return spec || window.dash_clientside.no_update;
                }
                const subjects = spec.data[0], trails = spec.data[1];
                const start = { x: decoded(subjects.x), y: decoded(subjects.y) }, end = { x: decoded(transition.x), y: decoded(transition.y) };
                const outlineFrame = spec.layout.meta.outline_frame;
                const frames = transition.fractions.map((fraction, index) => {
                    const moved = [{ type: "scattergl", x: between(start.x, end.x, fraction), y: between(start.y, end.y, fraction) }];
                    if (trails) {
                        moved.push({ type: "scattergl", x: index === 0 ? trails.x : [], y: index === 0 ? trails.y : [] });
                    }
                    const frame = { name: String(index), data: moved, traces: trails ? [0, 1] : [0] };
                    if (typeof outlineFrame === "number") {
                        frame.layout = { shapes: [{ visible: index === outlineFrame }] }; // the selection's outline on its own frame only
                    }
                    return frame;
                });
                const meta = { frame_views: spec.layout.meta.frame_views, outline_frame: outlineFrame };
                // Rows decoded here: Plotly.js leaves a WebGL trace's customdata out of its events while it is still base64.
                const first = Object.assign({}, subjects, { x: frames[0].data[0].x, y: frames[0].data[0].y, customdata: decoded(subjects.customdata) });
                return { data: [first, ...spec.data.slice(1)], layout: Object.assign({}, spec.layout, { meta: meta }), frames: frames };
            },

            // A lasso or box on the map, sent as its shape and the frame it was drawn on (the figure names each frame as a
            // view in layout.meta, and the server resolves the shape on that frame's coordinates): a few hundred bytes
            // however many subjects it takes in. On a frame the figure leaves unnamed (a brushed range, or B aligned on
            // the selection), the rows of the points inside it.
            selectionFromMap: function (selected, current) {
                if (!selected || !selected.points) {
                    return window.dash_clientside.no_update; // a double-click clears the lasso outline; the selection stays
                }
                const graph = document.querySelector("#cs-map .js-plotly-plot");
                const traces = mapTraces();
                if (!traces[0] || traces[0].type !== "scattergl") {
                    return window.dash_clientside.no_update; // a density map (a large cohort) has cells, not subjects, to select
                }
                const shape = drawnShape(selected);
                if (shape === null) {
                    return window.dash_clientside.no_update; // an event without a shape (its outline taken away, a re-emit) changes nothing
                }
                const views = ((graph.layout || {}).meta || {}).frame_views;
                const frame = shownFrame(graph);
                const view = Array.isArray(views) && frame >= 0 ? views[frame] : null;
                if (view) {
                    return sameSelection(current, MAP, view, shape) ? window.dash_clientside.no_update
                        : { source: MAP, view: view, shape: shape, at: Date.now() };
                }
                const rows = new Set();
                for (const point of selected.points) {
                    const row = rowOf(point, traces);
                    if (row !== null) {
                        rows.add(row);
                    }
                }
                return { rows: Array.from(rows), source: MAP };
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
