"""Filters, cohort algebra and the SQLite cohort store."""

from __future__ import annotations

import gc
import multiprocessing
import os
import sqlite3
import threading
import warnings

import numpy as np
import pandas as pd
import pytest

from app import context as app_context
from app.cohort_store import CohortStore, CohortStoreError
from app.context import LeafMaskMemo
from app.core.cohort_algebra import CohortDefinition, leaf_mask, resolve_mask
from app.core.filters import ChoiceFilter, RangeFilter, combined_mask, filter_from_dict


@pytest.fixture
def phenotypes() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age_years": [50.0, 61.0, 70.0, np.nan, 80.0],
            "sex": pd.Categorical(["female", "male", "female", "male", "female"]),
            "atrial_fibrillation": [False, True, True, False, True],
        },
        index=pd.Index(["a", "b", "c", "d", "e"], name="sample_id"),
    )


def test_leaf_masks_are_remembered_by_definition_while_operands_are_still_looked_up_each_time(phenotypes, monkeypatch):
    women = CohortDefinition(filters=(ChoiceFilter("sex", ("female",)).to_dict(),))
    lasso = CohortDefinition(subject_ids=("a", "b", "zz"))
    memo, computed, looked_up = LeafMaskMemo(phenotypes), [], []
    monkeypatch.setattr(app_context, "leaf_mask", lambda definition, table: computed.append(definition) or leaf_mask(definition, table))

    def lookup(operand: int) -> CohortDefinition:
        looked_up.append(operand)
        return {1: women, 2: lasso}[operand]

    either = CohortDefinition(operation="union", operands=(1, 2))
    for _ in range(3):
        mask = resolve_mask(either, phenotypes, lookup, leaf=memo)
        assert mask.tolist() == [True, True, True, False, True]
        mask[:] = False  # a caller changing its mask changes nothing remembered
        assert resolve_mask(CohortDefinition(filters=women.filters), phenotypes, lookup, leaf=memo).tolist() == [True, False, True, False, True]
    assert computed == [women, lasso]  # each leaf worked out once (a definition read again from the store is the same key)
    assert looked_up == [1, 2] * 3  # who may see an operand is asked every time


def test_range_filters_are_inclusive_open_ended_and_drop_missing(phenotypes):
    assert RangeFilter("age_years", 61, 70).mask(phenotypes).tolist() == [False, True, True, False, False]
    assert RangeFilter("age_years", low=70).mask(phenotypes).tolist() == [False, False, True, False, True]
    assert RangeFilter("age_years").mask(phenotypes).tolist() == [True, True, True, False, True]


def test_choice_filters_on_categories_and_binaries(phenotypes):
    assert ChoiceFilter("sex", ("male",)).mask(phenotypes).tolist() == [False, True, False, True, False]
    assert ChoiceFilter("atrial_fibrillation", (True,)).mask(phenotypes).tolist() == [False, True, True, False, True]
    assert not ChoiceFilter("sex", ()).mask(phenotypes).any()
    as_text = phenotypes.assign(sex=phenotypes["sex"].astype(object).where(phenotypes.index != "c", None))
    assert ChoiceFilter("sex", ("female",)).mask(as_text).tolist() == [True, False, False, False, True]


def test_filters_combine_with_and_and_round_trip_through_dicts(phenotypes):
    filters = [RangeFilter("age_years", low=60), ChoiceFilter("sex", ("female",))]
    assert combined_mask(phenotypes, filters).tolist() == [False, False, True, False, True]
    assert [filter_from_dict(f.to_dict()) for f in filters] == filters
    assert combined_mask(phenotypes, []).all()
    with pytest.raises(ValueError, match="unknown filter kind"):
        filter_from_dict({"kind": "regex"})


def test_set_algebra_over_definitions(phenotypes):
    women = CohortDefinition(filters=(ChoiceFilter("sex", ("female",)).to_dict(),))
    af = CohortDefinition(filters=(ChoiceFilter("atrial_fibrillation", (True,)).to_dict(),))
    lasso = CohortDefinition(subject_ids=("a", "b", "zz"))
    saved = {1: women, 2: af, 3: lasso}

    def mask(definition):
        return resolve_mask(definition, phenotypes, saved.__getitem__).tolist()

    assert mask(lasso) == [True, True, False, False, False]
    women_in_lasso = CohortDefinition(filters=women.filters, subject_ids=lasso.subject_ids)
    assert mask(women_in_lasso) == [True, False, False, False, False] and women_in_lasso.kind == "selection + filters"
    assert mask(CohortDefinition(operation="union", operands=(1, 3))) == [True, True, True, False, True]
    assert mask(CohortDefinition(operation="intersection", operands=(1, 2))) == [False, False, True, False, True]
    assert mask(CohortDefinition(operation="difference", operands=(2, 1))) == [False, True, False, False, False]
    assert mask(CohortDefinition(operation="complement", operands=(1,))) == [False, True, False, True, False]


def test_definitions_refuse_wrong_arity_and_cycles(phenotypes):
    with pytest.raises(ValueError, match="complement takes 1 cohorts, got 2"):
        CohortDefinition(operation="complement", operands=(1, 2))
    with pytest.raises(ValueError, match="not both"):
        CohortDefinition(subject_ids=("a",), operation="complement", operands=(1,))
    with pytest.raises(ValueError, match="at least 2"):
        CohortDefinition(operation="union", operands=(1,))
    loop = {1: CohortDefinition(operation="complement", operands=(1,))}
    with pytest.raises(ValueError, match="in terms of itself"):
        resolve_mask(loop[1], phenotypes, loop.__getitem__, frozenset({1}))


def test_store_saves_lists_renames_and_deletes(tmp_path):
    store = CohortStore(tmp_path / "cohorts.sqlite", dataset="demo")
    women = store.save("Women", CohortDefinition(filters=(ChoiceFilter("sex", ("female",)).to_dict(),)))
    lasso = store.save("  lasso   1 ", CohortDefinition(subject_ids=("a", "b")))
    assert lasso.name == "lasso 1"
    combined = store.save("Women or lasso", CohortDefinition(operation="union", operands=(women.id, lasso.id)))
    assert [c.name for c in store.list()] == ["lasso 1", "Women", "Women or lasso"]
    with pytest.raises(CohortStoreError, match="a cohort named “Women” already exists"):  # as typed, no Python escapes
        store.save("Women", CohortDefinition(subject_ids=("c",)))
    unicode = store.save("Ωμέγα 👩\u200d⚕️", CohortDefinition(subject_ids=("c",)))
    with pytest.raises(CohortStoreError, match="a cohort named “Ωμέγα 👩\u200d⚕️” already exists"):
        store.save("Ωμέγα 👩\u200d⚕️", CohortDefinition(subject_ids=("c",)))
    store.delete(unicode.id)
    first = store.save_unique("Cluster 1", CohortDefinition(subject_ids=("a",)))
    second = store.save_unique("Cluster 1", CohortDefinition(subject_ids=("b",)))
    assert second.name == "Cluster 1 (2)"  # another group of that name
    with pytest.raises(CohortStoreError, match="already saved as “Cluster 1”"):  # the same group again
        store.save_unique("Cluster 1", CohortDefinition(subject_ids=("a",)))
    store.delete(first.id)
    store.delete(second.id)
    for odd in ("RTL \u202eevil", "a\u2066b", "tab\x07bell"):  # text-direction overrides and isolates, control characters
        with pytest.raises(CohortStoreError, match="cannot hold control or text-direction characters"):
            store.save(odd, CohortDefinition(subject_ids=("c",)))
        with pytest.raises(CohortStoreError, match="cannot hold control or text-direction characters"):
            store.rename(women.id, odd)
    store.rename(women.id, "Female subjects")
    assert store.get(combined.id).definition.operands == (women.id, lasso.id)  # algebra follows renames
    with pytest.raises(CohortStoreError, match="Women or lasso is defined from it"):
        store.delete(women.id)
    store.delete(combined.id)
    store.delete(women.id)
    assert [c.name for c in store.list()] == ["lasso 1"]
    with pytest.raises(CohortStoreError, match="no saved cohort"):
        store.rename(women.id, "ghost")
    with pytest.raises(CohortStoreError, match="needs a name"):
        store.save("   ", CohortDefinition(subject_ids=("a",)))
    with pytest.raises(CohortStoreError, match="no saved cohort"):
        store.save("over nothing", CohortDefinition(operation="complement", operands=(999,)))


def test_a_cohort_combined_with_itself_is_refused():
    with pytest.raises(ValueError, match="needs different cohorts"):
        CohortDefinition(operation="union", operands=(3, 3))
    with pytest.raises(ValueError, match="needs different cohorts"):
        CohortDefinition(operation="intersection", operands=(1, 2, 1))


def test_store_refuses_ids_that_are_not_store_ids_and_chains_past_the_depth_cap(tmp_path):
    from app.cohort_store import MAX_DEFINITION_DEPTH

    store = CohortStore(tmp_path / "cohorts.sqlite", dataset="demo")
    base = store.save("base", CohortDefinition(subject_ids=("a",)))
    for hostile in (True, 1.0, "1", -1, 0, 10**30, None):
        for operation in (store.get, store.delete, lambda cohort_id: store.rename(cohort_id, "x")):
            with pytest.raises(CohortStoreError, match="no saved cohort"):
                operation(hostile)
    other = store.save("other", CohortDefinition(subject_ids=("b",)))
    latest = base
    for level in range(MAX_DEFINITION_DEPTH):
        latest = store.save(f"level {level}", CohortDefinition(operation="union", operands=(latest.id, other.id)))
    assert store.depth(latest.definition) == MAX_DEFINITION_DEPTH
    with pytest.raises(CohortStoreError, match=f"at most {MAX_DEFINITION_DEPTH} levels deep"):
        store.save("one too deep", CohortDefinition(operation="complement", operands=(latest.id,)))


def test_store_survives_a_restart_and_keeps_datasets_apart(tmp_path):
    path = tmp_path / "cohorts.sqlite"
    CohortStore(path, dataset="demo").save("AF", CohortDefinition(subject_ids=("b",)))
    assert [c.name for c in CohortStore(path, dataset="demo").list()] == ["AF"]
    assert CohortStore(path, dataset="other").list() == []


def _save_from_another_process(path: str, name: str) -> None:
    CohortStore(path, dataset="demo").save(name, CohortDefinition(subject_ids=("a",)))


def test_a_second_worker_process_sees_and_adds_the_same_cohorts(tmp_path):
    path = tmp_path / "cohorts.sqlite"
    store = CohortStore(path, dataset="demo")
    store.save("from worker 1", CohortDefinition(subject_ids=("a",)))
    worker = multiprocessing.get_context("spawn").Process(target=_save_from_another_process, args=(str(path), "from worker 2"))
    worker.start()
    worker.join(60)
    assert worker.exitcode == 0
    assert [c.name for c in store.list()] == ["from worker 1", "from worker 2"]


def _open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_each_thread_keeps_one_connection_sees_the_others_writes_and_closes_it_when_it_ends(tmp_path, monkeypatch):
    store = CohortStore(tmp_path / "cohorts.sqlite", dataset="demo")
    saved = store.save("kept", CohortDefinition(subject_ids=("a",)))
    before = _open_descriptors()
    opened = []
    connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *args, **kwargs: opened.append(args) or connect(*args, **kwargs))
    for _ in range(200):
        store.get(saved.id)
    assert opened == [] and _open_descriptors() == before  # the first call's connection, reused: nothing opened per call
    seen = []

    def in_another_thread():
        store.save("from a thread", CohortDefinition(subject_ids=("b",)))
        seen.append([c.name for c in store.list()])

    def round_trip():
        thread = threading.Thread(target=in_another_thread)
        thread.start()
        thread.join()
        store.delete(next(c.id for c in store.list() if c.name == "from a thread"))  # written there, seen and deleted here

    round_trip()  # SQLite may keep one descriptor of a closed connection for the file's next opening (POSIX locks)
    gc.collect()
    after_one_thread = _open_descriptors()
    for _ in range(20):  # threads come and go, as a server's do
        round_trip()
    gc.collect()
    assert seen == [["from a thread", "kept"]] * 21 and _open_descriptors() == after_one_thread <= before + 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_opens_its_own_connection_and_leaves_its_parents_alone(tmp_path):
    store = CohortStore(tmp_path / "cohorts.sqlite", dataset="demo")
    store.save("before the fork", CohortDefinition(subject_ids=("a",)))  # this thread now holds a connection
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Python 3.12+ warns about forking a process with threads
        child = os.fork()
    if child == 0:  # the child: as a prefork worker would, with the parent's connection inherited
        try:
            store.save("in the child", CohortDefinition(subject_ids=("b",)))
            os._exit(0 if [c.name for c in store.list()] == ["before the fork", "in the child"] else 1)
        finally:
            os._exit(2)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert [c.name for c in store.list()] == ["before the fork", "in the child"]  # the parent's connection still works
    store.save("after", CohortDefinition(subject_ids=("c",)))
