"""The explorer's component ids, each written out in full once (a search for an id lands here), and its fixed choices.

Three views: two latent views (a space and a projection method each) and one clinical view (two
variables). Every view has a graph, the figure the server drew for it (``view-N-spec``, which
assets/explorer.js splits by colour into the graph's traces), a tooltip, a store of what it drew
(``view-N-drawn``: a Patch is only sent to a view known to be drawn) and a store of its zoom; a latent view also records the
projection it waits for. The address bar (app.panels.address_bar) and the browser tests use the
same literal ids.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.jobs import HEAVY, BackgroundJob
from app.state import CLUSTER_COLOUR, CLUSTERS, FILTERS, SELECTION


@dataclass(frozen=True)
class ViewIds:
    """One view's component ids: its graph, the figure the server drew for it, its tooltip, what it drew and its zoom (reduced in the browser)."""

    graph: str
    spec: str
    tooltip: str
    drawn: str
    viewport: str


@dataclass(frozen=True)
class LatentViewIds(ViewIds):
    """A latent view's component ids: a view's, plus its space and method dropdowns and the projection it waits for."""

    space: str
    method: str
    pending: str


LATENT_VIEWS = (
    LatentViewIds(graph="view-0", spec="view-0-spec", tooltip="view-0-tooltip", drawn="view-0-drawn", viewport="view-0-viewport",
                  space="view-0-space", method="view-0-method", pending="view-0-pending"),
    LatentViewIds(graph="view-1", spec="view-1-spec", tooltip="view-1-tooltip", drawn="view-1-drawn", viewport="view-1-viewport",
                  space="view-1-space", method="view-1-method", pending="view-1-pending"),
)
CLINICAL_VIEW = ViewIds(graph="view-2", spec="view-2-spec", tooltip="view-2-tooltip", drawn="view-2-drawn", viewport="view-2-viewport")
PENDING_SEEN = "views-pending-seen"  # the latent views' pending projections as last seen in the browser (see selectionWhenProjected)
VIEWS = (*LATENT_VIEWS, CLINICAL_VIEW)  # in the order the page shows them (and assets/explorer.js reads their selections)

PROJECTION_JOB = BackgroundJob(request="projection-request", ready="projection-ready", poll="projection-poll", poll_ms=1000, lane=HEAVY,
                               failed="projection-failed")
CLUSTER_OPTION = {"label": "Clusters (found in the Clusters tab)", "value": CLUSTER_COLOUR}
HIGHLIGHT_TRIGGERS = {"colour-by", CLUSTERS, SELECTION, FILTERS}  # the inputs a drawn view follows by repainting its markers

NO_SPACES = "This cohort has no latent spaces yet: run python -m models.encode"
NO_SPACE_YET = ("The raw-signal baseline space is being computed in the background (progress in the badge above): "
                "this view draws itself when it is ready. The clinical view, filters and Compare cohorts work meanwhile.")
