"""The space comparison's fixed choices: when neighbours are computed in the request, list lengths, sort orders, its background job."""

from __future__ import annotations

from app.jobs import HEAVY, BackgroundJob

PANEL_TAB = "compare-spaces"  # the tab_id app.server gives this panel
INLINE_SUBJECTS = 5_000  # up to this many subjects, neighbours are computed in the request (exact, under a second)
LIST_LENGTH = 50
BACKGROUND_SUBJECTS = 1_500  # grey context points in the small multiples
SORT_ORDERS = {"ascending": "↑ ascending", "descending": "↓ descending"}
RANK = "rank"  # sort option: most changed first in one list, least changed first in the other
WAITING_MARK = "#waiting"  # appended to cs-drawn's key while the map still waits for the background result
NEIGHBOURS_JOB = BackgroundJob(request="cs-request", ready="cs-ready", poll="cs-poll", poll_ms=1500, lane=HEAVY, failed="cs-failed")
NEIGHBOURS_NOT_COMPUTED = ("The neighbour lists or layouts were not computed: the message above says why.\n"
                           "To ask again, change a setting and back, or reload the page.")  # two lines in the map
MAP_SOURCE = "compare-spaces-map"  # a selection drawn on the overlap map names this source (assets/compare_spaces.js)
ROW_CLICK = "cs-row-click"  # the store a subject list's row sets when clicked (assets/compare_spaces.js): {"list", "row", "at"}
LIST_NAMES = ("most", "least", "gained", "lost")  # the subject lists whose rows focus a subject
