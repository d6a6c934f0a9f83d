"""WFDB records (PhysioNet: PTB-XL, CODE, Chapman–Shaoxing, the challenges) read with the maintained ``wfdb`` package."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from data_loaders.errors import CohortFormatError
from data_loaders.importers.ecg import RawEcg


@contextmanager
def wfdb_warnings_silenced() -> Iterator[None]:
    """wfdb 4.3.1 calls pandas' deprecated ``inplace=True`` on import and in its readers and writers: harmless, and not ours to fix."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pd.errors.Pandas4Warning)
        yield


with wfdb_warnings_silenced():
    import wfdb


def read_wfdb_ecg(header_path: Path) -> RawEcg:
    """One record (its ``.hea`` header and signal file) in physical units, as its header declares them."""
    try:
        with wfdb_warnings_silenced():
            record = wfdb.rdrecord(str(Path(header_path).with_suffix("")))
    except Exception as error:  # wfdb raises bare ValueError/IndexError/OSError for broken headers and files
        raise CohortFormatError(header_path, "record", "a readable WFDB record (header and signal file)", f"{type(error).__name__}: {error}") from error
    if record.p_signal is None or record.p_signal.ndim != 2:
        raise CohortFormatError(header_path, "signals", "a single-segment record of (samples, channels)", "no physical signal")
    units = tuple(str(unit or "") for unit in record.units)
    return RawEcg(np.asarray(record.p_signal), tuple(record.sig_name), units, float(record.fs), Path(header_path))
