// Plotly's WebGL canvases (class "gl-canvas ...") are created without multisample antialiasing.
//
// Plotly asks for it on every scattergl canvas and offers no setting to decline. The points do not need it: their
// shader already smooths each marker's edge, and the axes, grid and text are SVG. Where WebGL is software
// (SwiftShader or llvmpipe: a browser without a GPU, a remote desktop, a locked-down hospital PC) multisampling
// is what drawing costs: three views of 100,000 points took 1.2-1.4 s to draw with it and 0.7-0.8 s without, and
// the first load at 100,000 subjects went from 3.2 to 2.7 s (headless Chromium, benchmarks/browser_scale.py).
// Other canvases on the page keep what they ask for.
(function () {
    const askForContext = HTMLCanvasElement.prototype.getContext;
    HTMLCanvasElement.prototype.getContext = function (kind, attributes) {
        if (typeof kind === "string" && kind.indexOf("webgl") === 0 && this.classList.contains("gl-canvas")) {
            return askForContext.call(this, kind, Object.assign({}, attributes, { antialias: false }));
        }
        return askForContext.apply(this, arguments);
    };
}());
