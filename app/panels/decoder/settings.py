"""The decoder panel's fixed choices: the spaces it decodes from, how many subjects, its graphs' tool bar."""

from __future__ import annotations

from app.jobs import BackgroundJob
from app.state import CURRENT_OPTION, EVERYONE_OPTION, REST_OPTION

SPACES = ("joint", "ecg", "mri")
LATENT_NAMES = {"joint": "joint latent", "ecg": "ECG-only latent", "mri": "MRI-only latent"}
LATENT_HELP = {
    "joint": "Both modalities decoded from the subject's joint latent.",
    "ecg": "Cross-modal: both decoded from the ECG's latent alone, so the MRI is predicted from the ECG.",
    "mri": "Cross-modal: both decoded from the MRI's latent alone, so the ECG is predicted from the MRI.",
}
MAX_SUBJECTS = 4
DECODER_TAB = "decoder"  # the tab_id app.server gives this panel
DEFAULT_SUBJECTS = 2
SUBJECT_OPTIONS = 400  # the dropdown lists this many of the source's subjects, nearest its centre first
PRINCIPAL_SLIDERS = 3
SLIDER_SD = 3  # the perturbation sliders run from -3 to +3 population SDs
INTERPOLATION_STEPS = (3, 9)  # the fewest and most steps an interpolation may decode
PROTOTYPE_KINDS = {"mean": "mean latent", "medoid": "medoid subject"}
DIFFERENCE = "difference"  # the perturbation direction from cohort B's mean towards A's
PREDICTOR_DIRECTION = "predictor:"  # + a task: the direction in which that predictor's output rises
SUBJECT_ENDPOINT = "subject:"  # + a subject id: an interpolation or perturbation that starts or ends at that subject
# The fixed cohorts each chooser offers before the saved ones (the layout's options until the saved list arrives).
SOURCE_OPTIONS = (CURRENT_OPTION, EVERYONE_OPTION)  # subjects from, and prototype A
OTHER_OPTIONS = (REST_OPTION, EVERYONE_OPTION, CURRENT_OPTION)  # prototype B
GRAPH_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["select2d", "lasso2d"]}

# The background decodes (app.jobs): their request stores
SUBJECT_JOB = BackgroundJob(request="decoder-subject-request")
PROTOTYPE_JOB = BackgroundJob(request="decoder-proto-request")
PERTURB_JOB = BackgroundJob(request="decoder-perturb-request")
INTERPOLATION_JOB = BackgroundJob(request="decoder-interp-request")
