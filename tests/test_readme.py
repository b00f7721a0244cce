"""The README's results section is written from the stored models and cannot drift from them."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from genre_core.outputs.readme import (
    END, START, metrics_cells, read_snapshot, replace_section, results_section, snapshot, snapshot_named_in,
)

ROOT = Path(__file__).resolve().parent.parent


def test_the_readme_section_is_what_the_stored_models_say():
    readme = (ROOT / "README.md").read_text()
    stored = readme.split(START, 1)[1].split(END, 1)[0].lstrip("\n")
    name = snapshot_named_in(stored)
    expected = results_section(ROOT / "models", read_snapshot(ROOT / name) if name else None, name or "")
    assert stored == expected, "README is stale: run `genre-core readme --write README.md`"


def test_every_figure_in_the_section_comes_from_the_metrics():
    section = results_section(ROOT / "models")
    metrics = json.loads((ROOT / "models" / "musicnn_logreg" / "metrics.json").read_text())
    config = json.loads((ROOT / "models" / "musicnn_logreg" / "config.json").read_text())
    assert f"{config['data']['n_clips']}-clip copy" in section
    assert f"{metrics['mean']['summary']['balanced_accuracy']['mean']:.3f}" in section
    assert f"{metrics['artist_filtered']['mean']['covered']['balanced_accuracy']:.3f}" in section


def test_a_snapshot_round_trips_and_the_comparison_names_both_copies(tmp_path):
    path = tmp_path / "zoo.json"
    path.write_text(json.dumps(snapshot(ROOT / "models")))
    previous = read_snapshot(path)
    previous["n_clips"] = 123  # as if an older, smaller copy
    section = results_section(ROOT / "models", previous, "reports/zoo_123.json")
    assert "5-fold, 123 clips" in section and "Against the previous zoo (123 clips" in section
    assert snapshot_named_in(section) == "reports/zoo_123.json"
    assert read_snapshot(tmp_path / "absent.json") is None


def test_replacing_needs_the_markers():
    assert replace_section(f"a\n{START}\nold\n{END}\nb", "new\n") == f"a\n{START}\nnew\n{END}\nb"
    with pytest.raises(ValueError, match="markers"):
        replace_section("no markers here", "new\n")


def test_the_command_explains_a_missing_snapshot_without_a_traceback(tmp_path):
    out = subprocess.run([sys.executable, "-m", "genre_core", "readme", "--previous", str(tmp_path / "none.json")],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode != 0 and "no such snapshot" in out.stderr and "Traceback" not in out.stderr


def test_on_a_tie_the_headline_comes_first_everywhere_models_are_ranked():
    import pandas as pd

    from genre_core.outputs.catalog import best_first

    table = pd.DataFrame({"model": ["a", "musicnn_logreg", "headline", "b"], "score": [0.5, 0.9, 0.9, 0.95]})
    assert list(best_first(table, "score")["model"]) == ["b", "headline", "musicnn_logreg", "a"]
    renamed = table.rename(columns={"model": "folder"})
    assert list(best_first(renamed, "score", "folder")["folder"]) == ["b", "headline", "musicnn_logreg", "a"]


def test_one_figure_per_thing_the_candidates_name_the_fold_mean_and_the_pooled_figure():
    """The candidates table repeats the 5-fold table's figure (mean over folds) and names the pooled one apart."""
    section = results_section(ROOT / "models")
    header, cells, rows = metrics_cells(ROOT / "models", "kfold")
    table_figure = {r["model"]: f"{r['balanced_accuracy_mean']:.3f} ± {r['balanced_accuracy_mean_std']:.3f}" for r in rows}
    candidates = section.split("| candidate |", 1)[1].split("\n\n", 1)[0].splitlines()[2:]
    assert "mean ± std over folds" in section and "pooled" in section
    for line in candidates:
        name, fold_mean = [c.strip() for c in line.strip("|").split("|")][:2]
        if name in table_figure:
            assert fold_mean == table_figure[name], name


def test_the_headline_says_it_has_no_parameters_of_its_own():
    header, cells, rows = metrics_cells(ROOT / "models", "kfold")
    headline = next(c for c in cells if c[0] == "headline")
    member = json.loads((ROOT / "models" / "headline" / "config.json").read_text())["members"][0]
    assert headline[header.index("parameters")].startswith(f"none of its own (uses {member}'s")


def test_the_section_spells_hip_hop_as_the_app_does():
    previous = read_snapshot(ROOT / "reports" / "zoo_460.json")
    assert "hiphop" not in results_section(ROOT / "models", previous, "reports/zoo_460.json")
