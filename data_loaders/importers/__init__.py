"""Readers for other people's recordings (WFDB and DICOM ECGs, DICOM and NIfTI cines) and the import into our cohort format.

Each reader is a pure function from one file (or one series) to arrays and notes, raising
``CohortFormatError`` naming the file, the field and what was expected; ``cohort_import`` streams
them into a cohort folder. Run it as ``python -m data_loaders.import``.
"""
