"""The default model of a task: deterministic, from CV accuracy and the registry's word on speed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from songpop.bundle import choose_default, update_index

SLOW = {"knn", "mlp", "ensemble"}


def entry(model: str, cv: float, fs: str = "audio") -> dict:
    return {
        "fast_to_serve": model not in SLOW,
        "id": f"seed/{fs}/{model}",
        "path": f"seed/{fs}/{model}",
        "task": "seed",
        "feature_set": fs,
        "model": model,
        "cv_accuracy": cv,
    }


def test_the_best_model_is_the_default_when_its_family_is_fast() -> None:
    chosen, reason = choose_default([entry("lgbm", 0.52), entry("logreg", 0.50)])
    assert chosen == "seed/audio/lgbm"
    assert "best by cross-validated accuracy (0.5200), and fast to serve" in reason


def test_a_slow_best_model_gives_way_to_the_best_fast_one_within_the_tolerance() -> None:
    entries = [entry("ensemble", 0.521), entry("knn", 0.519), entry("lgbm", 0.514)]
    chosen, reason = choose_default(entries)
    assert chosen == "seed/audio/lgbm"
    assert "seed/audio/ensemble scores 0.5210, at most 1 point(s) more, but has no ONNX" in reason


def test_speed_is_not_bought_with_more_than_the_tolerance() -> None:
    entries = [entry("ensemble", 0.774), entry("logreg", 0.724)]
    chosen, reason = choose_default(entries, tolerance=0.01)
    assert chosen == "seed/audio/ensemble"
    assert "no model fast to serve comes within 1 point(s)" in reason
    assert choose_default(entries, tolerance=0.06)[0] == "seed/audio/logreg"


def test_the_choice_is_the_same_whatever_the_order_and_ties_break_by_id() -> None:
    entries = [entry("rf", 0.5), entry("lgbm", 0.5), entry("logreg", 0.49), entry("dummy", 0.6)]
    first = choose_default(entries)
    assert first == choose_default(list(reversed(entries)))
    assert first[0] == "seed/audio/lgbm"  # the dummy never; a tie goes to the smaller id
    with pytest.raises(ValueError, match="no model"):
        choose_default([])


def test_update_index_keeps_other_tasks_and_sets_the_default(tmp_path: Path) -> None:
    hit = entry("lgbm", 0.77) | {"id": "hit/audio/lgbm", "task": "hit"}
    update_index(tmp_path, "hit", [hit], {"audio": "hit/audio/lgbm"}, set_default=False)
    default, _ = update_index(
        tmp_path,
        "seed",
        [entry("lgbm", 0.515), entry("ensemble", 0.52), entry("lgbm", 0.56, "audio+context")],
        {"audio": "seed/audio/ensemble", "audio+context": "seed/audio+context/lgbm"},
        set_default=True,
    )
    index = json.loads((tmp_path / "index.json").read_text())
    assert default == index["default"] == "seed/audio/lgbm"  # audio features only
    assert {e["task"] for e in index["models"]} == {"hit", "seed"}
    assert index["tasks"]["hit"]["default"] == "hit/audio/lgbm"
    assert index["default_reason"].startswith("task 'seed', audio features: best by")


def _record_tasks(folder: str, prefix: str, rounds: int, barrier) -> None:
    barrier.wait()  # both writers start together
    for i in range(rounds):
        task = f"{prefix}{i}"  # a new task each time: a lost update loses it for good
        entry = {
            "id": f"{task}/audio/lgbm",
            "path": f"{task}/audio/lgbm",
            "task": task,
            "feature_set": "audio",
            "model": "lgbm",
            "cv_accuracy": 0.5,
            "fast_to_serve": True,
        }
        update_index(folder, task, [entry], {"audio": entry["id"]}, set_default=False)


def test_two_writers_of_one_index_lose_no_update(tmp_path: Path) -> None:
    """Two `songpop train` runs into one folder: the lock keeps either from losing the other."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    writers = [
        context.Process(target=_record_tasks, args=(str(tmp_path), prefix, 60, barrier))
        for prefix in ("seed", "hit")
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(60)
        assert writer.exitcode == 0
    index = json.loads((tmp_path / "index.json").read_text())
    assert len(index["tasks"]) == 120 and len(index["models"]) == 120
