"""The transfer model's head as arrays (head.py): same probabilities as its scikit-learn pipeline, used
only while it matches the stored pipeline, and an answer path that imports neither torch nor scikit-learn."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import chirp, write_wav

from genre_core.audio.errors import ModelLoadError
from genre_core.models.artifacts import SVM_FILE, load_model
from genre_core.models.embeddings import HeadInput, TaggerOutput
from genre_core.models.head import HEAD_FILE, LinearHead, load_head
from genre_core.models.sklearn_io import load_svm

ROOT = Path(__file__).resolve().parent.parent
TRANSFER = ROOT / "models" / "musicnn_logreg"


@pytest.fixture(scope="module")
def pipeline():
    config = json.loads((TRANSFER / "config.json").read_text())
    return load_svm(TRANSFER / SVM_FILE, config["weights_sha256"])


def test_the_arrays_give_the_pipelines_probabilities(pipeline):
    embeddings = np.load(ROOT / "models" / "headline" / "reference_embeddings.npz")["reference"]  # (n, 200)
    extra = pipeline.n_features_in_ - embeddings.shape[1]  # a head that also reads the tag probabilities
    embeddings = np.hstack([embeddings, np.random.default_rng(0).uniform(0, 1, (len(embeddings), extra))])
    head = LinearHead.from_pipeline(pipeline)
    # in float64 they are the same numbers; on float32 input scikit-learn computes in float32
    np.testing.assert_allclose(head.predict_proba(embeddings.astype(np.float64)),
                               pipeline.predict_proba(embeddings.astype(np.float64)), atol=1e-12)
    np.testing.assert_allclose(head.predict_proba(embeddings.astype(np.float32)),
                               pipeline.predict_proba(embeddings.astype(np.float32)), atol=1e-5)
    assert (head.predict(embeddings) == pipeline.predict(embeddings.astype(np.float64))).all()


def test_the_stored_transfer_model_uses_its_head_read_back_from_disk(pipeline, tmp_path):
    model = load_model(TRANSFER)
    assert isinstance(model.svm, LinearHead)
    assert model.config["head"]["from_weights_sha256"] == model.config["weights_sha256"]
    patches = np.random.default_rng(1).gamma(1.0, 0.7, (50, pipeline.n_features_in_))  # like ReLU'd features
    np.testing.assert_allclose(model.svm.predict_proba(patches), pipeline.predict_proba(patches), atol=1e-12)
    sha256 = LinearHead.from_pipeline(pipeline).save(tmp_path / HEAD_FILE)  # scikit-learn's coef_ is Fortran-ordered
    config = {"head": {"sha256": sha256, "from_weights_sha256": "x"}, "weights_sha256": "x"}
    np.testing.assert_allclose(load_head(tmp_path, config).coef, pipeline.named_steps["logreg"].coef_)


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / TRANSFER.name
    shutil.copytree(TRANSFER, folder)
    shutil.copytree(ROOT / "models" / "musicnn_msd", tmp_path / "musicnn_msd")
    return folder


def test_a_head_not_from_the_stored_pipeline_is_not_used(tmp_path):
    folder = _copy(tmp_path)
    config = json.loads((folder / "config.json").read_text())
    config["head"]["from_weights_sha256"] = "0" * 64  # written from another model.skops
    (folder / "config.json").write_text(json.dumps(config))
    assert not isinstance(load_model(folder).svm, LinearHead)


def test_the_head_reads_the_layers_its_config_names(tmp_path):
    outputs = TaggerOutput(tags=np.full((4, 50), 0.5), penultimate=np.ones((4, 200)), times=np.zeros((4, 2)))
    assert HeadInput.from_config({}).stack(outputs).shape == (4, 200)  # folders stored before head_input
    both = HeadInput(("penultimate", "tags"))
    assert HeadInput.from_config({"head_input": both.to_dict()}) == both
    stacked = both.stack(outputs)
    assert stacked.shape == (4, 250) and stacked[0, 199] == 1.0 and stacked[0, 200] == 0.5
    assert both.stack({"penultimate": outputs.penultimate, "tags": outputs.tags}).shape == (4, 250)
    with pytest.raises(ValueError, match="head input layers"):
        HeadInput(("penultimate", "pool5"))
    stored = load_model(TRANSFER)
    assert stored.head_input.stack(outputs).shape[1] == stored.svm.coef.shape[1]


def test_a_config_naming_an_unknown_head_input_is_refused_with_the_folder(tmp_path):
    folder = _copy(tmp_path)
    config = json.loads((folder / "config.json").read_text())
    config["head_input"] = {"layers": ["penultimate", "no such layer"]}
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match="head_input is invalid"):
        load_model(folder)


def test_a_changed_head_file_falls_back_to_the_pipeline(tmp_path):
    folder = _copy(tmp_path)
    (folder / HEAD_FILE).write_bytes(b"not a head")
    assert not isinstance(load_model(folder).svm, LinearHead)


ANSWER_PATH = """
import sys
from genre_core.serving.zoo import ModelZoo
import app_support  # noqa: F401  (what every page imports)
zoo = ModelZoo.load(defer=True)
zoo.warm_up()
result = zoo.classify(sys.argv[1], models=zoo.answer_models)
heavy = sorted(m for m in ("torch", "sklearn", "skops") if m in sys.modules)
print(result.final.vote_label, ",".join(heavy) or "-", sorted(zoo.pending) != [])
"""


def test_the_answer_path_imports_neither_torch_nor_scikit_learn(tmp_path):
    clip = write_wav(tmp_path / "chirp.wav", chirp(8.0))
    out = subprocess.run([sys.executable, "-c", ANSWER_PATH, str(clip)], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    genre, heavy, deferred = out.stdout.split()
    assert heavy == "-", f"imported on the answer path: {heavy}"
    assert deferred == "True"
