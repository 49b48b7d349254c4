"""scripts/learner-model on a slice of the shipped ASSISTments file: fit writes a
params.json the Worker loads, eval prints the `name: value` lines the issue names, and
python -m devhost load-learner-model stores params.json for a tenant."""

import argparse
import json
import subprocess
import sys

import pytest

from devhost.__main__ import _load_learner_model
from learner import model as lm
from tests.conftest import ROOT, TENANT_A
from tests.learner.helpers import rows as db_rows

# shared/ sits beside the repo (a worktree one level deeper also finds it)
DATA = next((p / "shared" / "data" / "assistments2009" / "builder_train.csv" for p in (ROOT.parent, ROOT.parent.parent)
             if (p / "shared" / "data" / "assistments2009" / "builder_train.csv").exists()),
            ROOT.parent / "shared" / "data" / "assistments2009" / "builder_train.csv")
SLICE_ROWS = 12_000


@pytest.fixture(scope="module")
def slices(tmp_path_factory):
    """The first rows of the shipped file, split by learner with the CLI's own split."""
    if not DATA.exists():
        pytest.skip("the shipped ASSISTments file is not beside the repo")
    d = tmp_path_factory.mktemp("lm")
    with DATA.open() as f:
        lines = [next(f) for _ in range(SLICE_ROWS + 1)]
    (d / "slice.csv").write_text("".join(lines))
    run("split", "--responses", d / "slice.csv", "--train-out", d / "train.csv", "--test-out", d / "test.csv")
    return d


def run(*args) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "tools.learner_model", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_eval_prints_the_best_model_unprefixed_first_then_the_others_and_wheelspinning(slices):
    out = run("eval", "--train", slices / "train.csv", "--test", slices / "test.csv", "--restarts", "1",
              "--no-tune").stdout.strip().splitlines()
    pairs = [line.split(": ") for line in out]
    names = [p[0] for p in pairs]
    values = {k: float(v) for k, v in pairs}
    assert names[:6] == ["rows", "base_rate_accuracy", "auc", "log_loss", "rmse", "accuracy"]
    for model in ("bkt", "bkt_forget", "elo", "combined"):
        if f"{model}.auc" in values:
            assert f"{model}.log_loss" in values and f"{model}.accuracy" in values
    prefixed = {n.split(".")[0] for n in names if "." in n}
    assert len(prefixed) == 3 and prefixed < {"bkt", "bkt_forget", "elo", "combined"}
    assert all(values["auc"] >= values[f"{m}.auc"] for m in prefixed)
    test_rows = sum(1 for _ in (slices / "test.csv").open()) - 1
    assert values["rows"] == test_rows
    assert 0.5 <= values["base_rate_accuracy"] <= 1 and 0.5 < values["auc"] <= 1
    for key in ("wheelspin_auc_at_3", "wheelspin_auc_at_5", "wheelspin_baseline_auc_at_3",
                "wheelspin_baseline_auc_at_5"):
        assert key in values


def test_fit_writes_params_the_worker_loads_with_held_out_figures(slices, tmp_path):
    out = tmp_path / "params.json"
    run("fit", "--responses", slices / "slice.csv", "--out", out, "--restarts", "1", "--no-tune")
    doc = json.loads(out.read_text())
    assert doc["format"] == lm.PARAMS_FORMAT
    params = lm.ModelParams.from_dict(doc)  # what the Worker parses
    assert params.default_bkt.problems() == []
    assert doc["fit"]["rows"] > 0 and 0 <= doc["fit"]["calibration_error"] <= 1
    concept, entry = next(iter(doc["concepts"].items()))
    assert lm.bkt_from_dict(entry, concept).problems() == []
    assert entry["fit"]["rows"] > 0
    held = [e["fit"]["held_out"] for e in doc["concepts"].values() if e["fit"]["held_out"]]
    assert held and all({"auc", "log_loss", "calibration_error", "rows"} <= set(h) for h in held)


def test_bad_input_files_are_refused_with_the_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("user_id,skill_name,correct\n1,7,1\n1,7,2\n")
    proc = subprocess.run([sys.executable, "-m", "tools.learner_model", "eval", "--train", str(bad), "--test",
                           str(bad)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "bad.csv:3: correct='2' is outside [0, 1]" in proc.stderr
    missing = tmp_path / "missing.csv"
    missing.write_text("user,skill\n")
    proc = subprocess.run([sys.executable, "-m", "tools.learner_model", "fit", "--responses", str(missing), "--out",
                           str(tmp_path / "p.json")], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "missing column(s) user_id, skill_name, correct" in proc.stderr


async def test_devhost_loads_params_json_for_a_tenant(host, tmp_path, capsys):
    doc = lm.params_document(lm.ModelParams(), {"skill-7": {"p_init": 0.4, "p_transit": 0.2, "p_slip": 0.1,
                                                            "p_guess": 0.2, "p_forget": 0.01, "difficulty": 0.5}})
    path = tmp_path / "params.json"
    path.write_text(json.dumps(doc))
    args = argparse.Namespace(params=str(path), tenant=TENANT_A, create_concepts=False)
    assert await _load_learner_model(host, args) == 2
    assert "skill-7" in capsys.readouterr().err
    args.create_concepts = True
    assert await _load_learner_model(host, args) == 0
    assert json.loads(capsys.readouterr().out)["concepts_loaded"] == 1
    assert db_rows(host, "SELECT p_init, difficulty FROM concept_parameters WHERE concept_id = 'skill-7'") == [
        (0.4, 0.5)]


def test_devhost_command_has_help():
    proc = subprocess.run([sys.executable, "-m", "devhost", "load-learner-model", "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "--create-concepts" in proc.stdout and "params.json" in proc.stdout
