// Tabs that work from the keyboard (WAI-ARIA tabs pattern) and name their own panels.
//
// dbc.Tabs (dash-bootstrap-components 2.0.4; its issue #891) renders each tab's link without react-bootstrap's
// eventKey, so react-bootstrap's tab hook sees every tab as "tab null": each got the same id (<base>-tab-null) and
// aria-controls (<base>-tabpane-null), no aria-selected, tabindex="-1" (none is active in its eyes, so Tab skipped the
// whole row), and its arrow-key handling finds no tabs to move to. The panes are right: the n-th pane of a
// .tab-content is <base>-tabpane-<tab_id>, labelled by <base>-tab-<tab_id>. So here each tab takes the ids of its
// pane, the active one alone is in the page's tab order (roving tabindex), and Left/Right (Home/End) move to the
// previous/next tab and open it, as a click does (the active_tab callbacks run as for a click).
// React writes an attribute only when its prop changes, and these props never do, so what is set here stays
// through re-renders; an observer mends tabs added later (a panel's own tabs arrive with the panel) or changed
// (the active class moves on every switch).
(function () {
    const TABLIST = "ul.nav[role='tablist']";

    function tabsOf(list) {
        return Array.from(list.querySelectorAll(":scope > .nav-item > [role='tab']"));
    }

    function panesOf(list) {
        const content = list.nextElementSibling;
        if (!content || !content.classList.contains("tab-content")) {
            return [];
        }
        return Array.from(content.children).filter((pane) => pane.classList.contains("tab-pane"));
    }

    function setAttribute(element, name, value) {
        if (element.getAttribute(name) !== value) { // writing only what differs keeps the observer from waking itself
            element.setAttribute(name, value);
        }
    }

    function enabled(tab) {
        return !tab.classList.contains("disabled") && tab.getAttribute("aria-disabled") !== "true";
    }

    function mend(list) {
        const tabs = tabsOf(list);
        const panes = panesOf(list);
        const active = tabs.find((tab) => tab.classList.contains("active"));
        const reachable = active && enabled(active) ? active : tabs.find(enabled); // before active_tab is set, the first
        tabs.forEach((tab, index) => {
            const pane = panes[index];
            if (pane && pane.id) {
                setAttribute(tab, "id", pane.getAttribute("aria-labelledby") || `${pane.id}-tab`);
                setAttribute(tab, "aria-controls", pane.id);
            }
            setAttribute(tab, "aria-selected", String(tab === active));
            setAttribute(tab, "tabindex", tab === reachable ? "0" : "-1");
        });
        // The items are <div>s in a <ul>: neither list items nor tabs, so nothing for assistive technology to announce.
        list.querySelectorAll(":scope > .nav-item").forEach((item) => setAttribute(item, "role", "presentation"));
    }

    function mendAll() {
        document.querySelectorAll(TABLIST).forEach(mend);
    }

    function onKeydown(event) {
        if (event.altKey || event.ctrlKey || event.metaKey || !(event.target instanceof Element)) {
            return;
        }
        const tab = event.target.closest("[role='tab']");
        const list = tab && tab.closest(TABLIST);
        if (!list) {
            return;
        }
        mend(list);
        const tabs = tabsOf(list).filter(enabled);
        const at = tabs.indexOf(tab);
        const moves = {
            ArrowRight: tabs[(at + 1) % tabs.length],
            ArrowLeft: tabs[(at - 1 + tabs.length) % tabs.length],
            Home: tabs[0],
            End: tabs[tabs.length - 1],
            " ": tab, // Space opens the focused tab, as Enter does (instead of scrolling the page)
        };
        const next = Object.prototype.hasOwnProperty.call(moves, event.key) ? moves[event.key] : undefined;
        if (!next || at < 0) {
            return;
        }
        event.preventDefault();
        next.focus();
        if (!next.classList.contains("active")) {
            next.click();
        }
    }

    function start() {
        mendAll();
        new MutationObserver(mendAll).observe(document.body, {
            subtree: true,
            childList: true,
            attributes: true,
            attributeFilter: ["class", "id", "tabindex", "aria-controls", "aria-selected"],
        });
        document.addEventListener("keydown", onKeydown);
    }

    if (document.body) {
        start();
    } else {
        document.addEventListener("DOMContentLoaded", start);
    }
})();
