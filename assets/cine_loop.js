// Cines loop until paused. Plotly stops an animation after its last frame; for figures whose
// layout.meta.cine_loop is set (app/figures/cine.py), this starts it again from the first frame
// while the Play button was the last thing pressed. Pause or a drag of the frame slider stops it.
(function () {
  "use strict";

  // Pausing interrupts the animation Play started, and Plotly rejects that animation's promise
  // with no reason; that rejection is expected, so it is not reported as an error. Others are.
  let interruptedAt = -Infinity;
  window.addEventListener("unhandledrejection", function (event) {
    if (event.reason === undefined && performance.now() - interruptedAt < 1000) {
      event.preventDefault();
    }
  });

  function restart(graph) {
    const meta = graph.layout && graph.layout.meta;
    if (!graph.cinePlaying || !meta || !meta.cine_loop || !window.Plotly) {
      return;
    }
    window.Plotly.animate(graph, null, {
      frame: { duration: meta.frame_ms, redraw: true },
      transition: { duration: 0 },
      mode: "immediate",
      fromcurrent: false,
    }).catch(function () {
      // interrupted by Pause or the slider: nothing to do
    });
  }

  function hook(graph) {
    if (graph.cineLoopHooked || typeof graph.on !== "function") {
      return;
    }
    graph.cineLoopHooked = true;
    graph.cinePlaying = false;
    graph.on("plotly_buttonclicked", function (event) {
      const args = event && event.button && event.button.args;
      // Play animates every frame (args[0] null); Pause animates [null].
      graph.cinePlaying = Array.isArray(args) && args[0] === null;
      interruptedAt = performance.now();
    });
    graph.on("plotly_sliderstart", function () {
      graph.cinePlaying = false;
      interruptedAt = performance.now();
    });
    graph.on("plotly_animated", function () {
      // after Plotly has finished its own bookkeeping for the animation that just ended
      window.setTimeout(restart, 0, graph);
    });
  }

  function hookAll() {
    document.querySelectorAll(".js-plotly-plot").forEach(hook);
  }

  new MutationObserver(hookAll).observe(document.documentElement, { childList: true, subtree: true });
  document.addEventListener("DOMContentLoaded", hookAll);
})();
