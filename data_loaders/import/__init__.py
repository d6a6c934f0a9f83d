"""``python -m data_loaders.import``: recordings in WFDB, DICOM or NIfTI → a cohort folder (see data_loaders.importers)."""
