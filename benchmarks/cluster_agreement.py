"""Do clusters of a latent space line up with the demo's known groups? Adjusted Rand index, per space and method.

    LSE_CACHE_DIR=/tmp/x/cache .venv/bin/python -m benchmarks.cluster_agreement            # the first-start demo
    .venv/bin/python -m benchmarks.cluster_agreement --cohort path/to/cohort --k 4 6 8 [--raw-scale]

The known groups of the synthetic demo are heart failure, atrial fibrillation in AF rhythm at the
visit and LV hypertrophy; a subject with several goes to the first in that order, the rest are
"none". Printed per space and clustering: the adjusted Rand index against that partition (subjects
HDBSCAN leaves unclustered count as one more group), and for
each known group the cluster that holds most of it (its share of the group, and the group's share
of the cluster), with the cluster's description.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

from app.core.clusters import CLUSTER_METHODS, NOISE, ClusterSpec, cluster_latents, describe_clusters
from data_loaders import cohort_spec
from data_loaders.cohort import load_cohort
from data_loaders.synthetic import schema

KNOWN_GROUPS = {"heart failure": cohort_spec.HF, "AF rhythm": schema.AF_RHYTHM, "LVH": cohort_spec.LVH}


def known_partition(phenotypes: pd.DataFrame) -> np.ndarray:
    """0 = none, then 1, 2, 3 for the known groups in KNOWN_GROUPS' order (first one wins)."""
    partition = np.zeros(len(phenotypes), dtype=int)
    for number, column in reversed(list(enumerate(KNOWN_GROUPS.values(), start=1))):
        partition[phenotypes[column].fillna(False).to_numpy(dtype=bool)] = number
    return partition


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohort", type=Path, help="cohort folder (default: the first-start demo in the cache folder)")
    parser.add_argument("--k", type=int, nargs="+", default=[4, 6, 8], help="cluster counts to try (Ward and k-means)")
    parser.add_argument("--min-cluster-size", type=int, default=50, help="HDBSCAN's smallest cluster")
    parser.add_argument("--raw-scale", action="store_true",
                        help="cluster the latents as they are, without scaling each dimension to unit variance (the app's default)")
    arguments = parser.parse_args(argv)
    if arguments.cohort is None:
        from app.config import AppConfig

        arguments.cohort = AppConfig.from_env().demo_cohort_dir
    cohort = load_cohort(arguments.cohort)
    phenotypes = cohort.phenotypes
    reference = known_partition(phenotypes)
    print(f"{cohort.name}: {len(phenotypes):,} subjects; known groups "
          + ", ".join(f"{name} {int((reference == n).sum()):,}" for n, name in enumerate(["none", *KNOWN_GROUPS], start=0)))
    standardise = not arguments.raw_scale
    specs = [ClusterSpec(method, n_clusters=k, standardise=standardise) for method in ("ward", "kmeans") for k in arguments.k]
    specs.append(ClusterSpec("hdbscan", min_cluster_size=arguments.min_cluster_size, standardise=standardise))
    for space, latents in cohort.spaces.items():
        for spec in specs:
            started = time.perf_counter()
            labels = cluster_latents(latents, spec)
            seconds = time.perf_counter() - started
            found = labels != NOISE
            name = f"HDBSCAN min size {spec.min_cluster_size}" if spec.method == "hdbscan" else f"{CLUSTER_METHODS[spec.method]} k={spec.n_clusters}"
            # Unclustered subjects count as one more group: leaving them out would flatter a method that clusters few.
            print(f"\n{space} ({latents.shape[1]}-d), {name}: {labels.max() + 1} clusters, {int((~found).sum())} unclustered, "
                  f"ARI {adjusted_rand_score(reference, labels):.3f} ({seconds:.1f} s)")
            if not found.any():
                continue
            descriptions = describe_clusters(labels, phenotypes, cohort.variables)
            for number, group in enumerate(KNOWN_GROUPS, start=1):
                in_group = reference == number
                if not (in_group & found).any():
                    print(f"  {group}: none in a cluster")
                    continue
                best = np.bincount(labels[in_group & found], minlength=labels.max() + 1).argmax()
                in_best = labels == best
                print(f"  {group}: {100 * (in_group & in_best).sum() / in_group.sum():.0f} % in cluster {best} "
                      f"({int(in_best.sum()):,} subjects, {100 * (in_group & in_best).sum() / in_best.sum():.0f} % of it {group}): "
                      f"{descriptions[int(best)]}")


if __name__ == "__main__":
    main()
