"""``python -m data_loaders.import``: the command line of ``data_loaders.importers.cohort_import``."""

from data_loaders.importers.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
