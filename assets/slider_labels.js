// Dash 4's dcc.Slider takes no aria-label, and a <label for="slider id"> cannot name the div it renders: a screen reader
// announced its thumb as "slider, 0" and its number box as "spin button, 0", whichever slider it was. Each slider
// with a label[for] gets that label's text on its thumb and its number box, as sliders join the page (tabs are laid
// out when first opened) or are drawn again. Checked at most once a frame, and only the labels' targets.
(function nameSliders() {
    const name = () => {
        for (const label of document.querySelectorAll("label[for]")) {
            const slider = document.getElementById(label.htmlFor);
            if (!slider || !slider.classList.contains("dash-slider-container")) {
                continue;
            }
            const text = label.textContent.trim();
            for (const part of slider.querySelectorAll('[role="slider"], input')) {
                if (part.getAttribute("aria-label") !== text) {
                    part.setAttribute("aria-label", text);
                }
            }
        }
    };
    let queued = false;
    new MutationObserver(() => {
        if (!queued) {
            queued = true;
            window.requestAnimationFrame(() => {
                queued = false;
                name();
            });
        }
    }).observe(document.documentElement, { childList: true, subtree: true });
})();
