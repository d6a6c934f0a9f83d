"""The accuracy panel's fixed choices: breakdowns, group names, the bootstrap seed, notes shown beside the numbers."""

from app.core.metrics import METRIC_LABELS

ACCURACY_TAB = "accuracy"  # the tab_id app.server gives this panel
SORT_CLICK = "accuracy-sort-click"  # the store a subgroup table header's sort button sets (assets/accuracy.js): {"column", "at"}
SORT_COLUMNS = ("subgroup", "n", "cases", "prevalence", *METRIC_LABELS)  # what a header may sort by
BY_SAVED = "saved-cohorts"
BY_AGE = "age-band"
BY_SPACE = "space"
SEED = 0
EVERYONE_GROUP = "Everyone"  # the group name of every test subject in an evaluation
EVERYONE_ELSE = "Everyone else"
EVERYONE_ROW = "Everyone (all test subjects)"
GRAPH_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "svg"}}
PREVALENCE_METRICS = ("ppv", "npv", "brier")  # these move with a group's prevalence even when the predictor ranks equally well
PREVALENCE_NOTE = ("PPV, NPV and the Brier score move with the share of cases in a group (its prevalence), so a group with more or fewer "
                   "cases differs on them even when the predictor is equally good; compare AUROC, sensitivity and specificity for that.")

DEGENERATE_INTERVAL = ("Every resample gave the same value: with this few cases or controls the bootstrap cannot show the uncertainty, "
                       "which is larger than it looks.")
BY_CONSTRUCTION_NOTE = ("In a group with one class only, PPV and NPV follow from the group's make-up, not from the predictor: with no controls "
                        "no one flagged can be a false positive (PPV 1) and everyone below the threshold is a missed case (NPV 0), and the "
                        "reverse with no cases. The number is shown without an interval and is not compared with other groups "
                        "(no shading, ranked after groups with an interval, left out of the forest plot); sensitivity or specificity "
                        "is the measure of the predictor in such a group.")
