"""The synthetic cardiac demo cohort: a causal phenotype model (``phenotypes``), ECG and MRI
generators (``ecg``, ``mri``) and the streaming cohort writer (``generate.generate_cohort``)."""

# Bumped whenever the generator's output changes, so caches of generated cohorts are rebuilt.
GENERATOR_VERSION = 2
