// A hidden panel's view of the current cohort (app/panels/shown.py): its store follows the filters,
// the selection and the saved cohorts' version only while its tab is shown, so changing them in
// another tab sends no request for it, and opening it sends what changed meanwhile, once.
// Whether a panel is shown (<tab>-visible) changes only when its tab is opened or left, so the
// panel's server callbacks that need to know are not asked on every switch between other tabs.
// A hidden tab's panel is fetched the first time the tab is opened (<tab>-opened, app/panels/tab_panes.py).
(function () {
    const SUFFIX = "-current-cohort";
    const VISIBLE_SUFFIX = "-visible";
    const OPENED_SUFFIX = "-opened";
    window.dash_clientside = Object.assign({}, window.dash_clientside, {
        panels: {
            whenShown: function (filters, selection, version, activeTab, current) {
                const storeId = dash_clientside.callback_context.outputs_list.id;
                if (activeTab !== storeId.slice(0, -SUFFIX.length)) {
                    return window.dash_clientside.no_update;
                }
                const next = {
                    filters: filters === undefined ? null : filters,
                    selection: selection === undefined ? null : selection,
                    version: version === undefined ? null : version,
                };
                if (current && JSON.stringify(current) === JSON.stringify(next)) {
                    return window.dash_clientside.no_update;
                }
                return next;
            },
            whetherShown: function (activeTab, current) {
                const storeId = dash_clientside.callback_context.outputs_list.id;
                const shown = activeTab === storeId.slice(0, -VISIBLE_SUFFIX.length);
                return shown === current ? window.dash_clientside.no_update : shown;
            },
            openedOnce: function (activeTab, opened) {
                const storeId = dash_clientside.callback_context.outputs_list.id;
                return !opened && activeTab === storeId.slice(0, -OPENED_SUFFIX.length) ? true : window.dash_clientside.no_update;
            },
        },
    });
})();
