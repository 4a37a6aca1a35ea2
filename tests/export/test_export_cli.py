"""`tfhash export` (versions, atomicity, errors) and `tfhash index` / `tfhash search` from an export alone."""

import json
import os

import h5py
import keras
import numpy as np
import pytest
from click.testing import CliRunner

from tests.export.test_serving_examples import doc_block
from tests.helpers import train_run
from tfhash.cli.main import cli
from tfhash.errors import TfhashError
from tfhash.training.run_folder import read_codes



def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def assert_one_line_error(result, text):
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and text in lines[0], result.output


def hits(output):
    return [line.split(": ", 1)[1] for line in output.splitlines() if line.startswith("query ")]


@pytest.fixture(scope="module")
def run_dir(export_dataset, tmp_path_factory):
    run_dir, _ = train_run("cca-itq", tmp_path_factory.mktemp("runs"), export_dataset, bits=16)
    return run_dir


@pytest.fixture(scope="module")
def exported(run_dir, tmp_path_factory):
    base = tmp_path_factory.mktemp("models") / "cca"
    result = run("export", run_dir, "--out", base)
    assert result.exit_code == 0, result.output
    assert f"-> {base}/1" in result.output and "encode_text" in result.output
    return base


def test_versions_increase_and_are_never_overwritten(run_dir, exported, tmp_path):
    base = tmp_path / "cca"
    assert run("export", run_dir, "--out", base).exit_code == 0
    assert run("export", run_dir, "--out", base, "--no-codes").exit_code == 0
    stamp = os.path.getmtime(base / "1" / "saved_model.pb")
    assert_one_line_error(run("export", run_dir, "--out", base, "--version", 1), "never overwritten")
    assert os.path.getmtime(base / "1" / "saved_model.pb") == stamp
    assert run("export", run_dir, "--out", base, "--version", 7).exit_code == 0
    assert run("export", run_dir, "--out", base).exit_code == 0
    assert sorted(os.listdir(base)) == ["1", "2", "7", "8"]
    assert os.path.exists(base / "1" / "assets.extra" / "codes.h5")
    assert not os.path.exists(base / "2" / "assets.extra" / "codes.h5")  # --no-codes
    meta = json.load(open(base / "8" / "assets.extra" / "tfhash.json"))
    assert meta["method"] == "cca-itq" and meta["bits"] == 16 and meta["source"]["run_dir"] == os.path.abspath(run_dir)


def test_a_crash_leaves_no_half_version(run_dir, tmp_path, monkeypatch):
    base = tmp_path / "cca"
    assert run("export", run_dir, "--out", base).exit_code == 0
    original = keras.export.ExportArchive

    def crashing_archive():
        archive = original()
        write_out = archive.write_out

        def write_then_crash(path, **kwargs):
            write_out(path, **kwargs)  # a complete SavedModel in the temporary folder...
            raise KeyboardInterrupt  # ...then the process is stopped before the rename

        archive.write_out = write_then_crash
        return archive

    monkeypatch.setattr(keras.export, "ExportArchive", crashing_archive)
    assert run("export", run_dir, "--out", base).exit_code == 130  # the CLI's "interrupted"
    assert os.listdir(base) == ["1"]  # no version 2, no temporary folder


def test_bits_must_be_a_multiple_of_8(export_dataset, tmp_path):
    run_dir, _ = train_run("cca-itq", tmp_path, export_dataset, bits=12)
    assert_one_line_error(run("export", run_dir, "--out", tmp_path / "m"), "multiple of 8")
    assert not [n for n in os.listdir(tmp_path / "m") if n.isdigit()]


def test_export_errors_are_one_line(tmp_path, run_dir):
    assert_one_line_error(run("export", tmp_path / "nowhere", "--out", tmp_path / "m"), "no run folder")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_one_line_error(run("export", empty, "--out", tmp_path / "m"), "missing model.keras")
    assert not os.path.exists(tmp_path / "m")
    assert_one_line_error(run("index", "--model", tmp_path / "m"), "no exported model")
    (tmp_path / "m").mkdir()
    assert_one_line_error(run("index", "--model", tmp_path / "m"), "no model versions")
    assert_one_line_error(run("index", run_dir, "--model", tmp_path / "m"), "one of them")


def test_search_from_the_export_equals_search_from_the_run(run_dir, exported, tmp_path):
    result = run("index", "--model", exported)
    assert result.exit_code == 0, result.output
    assert f"-> {exported}/index-text.h5" in result.output
    assert run("index", run_dir, "--out", tmp_path / "run-index.h5").exit_code == 0
    from_model = run("search", exported / "index-text.h5", "--model", exported, "--query", 0, "--query", 5, "-k", 4)
    from_run = run("search", tmp_path / "run-index.h5", "--run", run_dir, "--query", 0, "--query", 5, "-k", 4)
    assert from_model.exit_code == 0, from_model.output
    assert len(hits(from_model.output)) == 2 and hits(from_model.output) == hits(from_run.output)


def test_index_and_search_raw_inputs_through_the_saved_model(run_dir, exported, export_dataset, tmp_path):
    with h5py.File(export_dataset) as f:
        db_rows, q_rows = f["splits/database"][()], f["splits/query"][()]
        np.save(tmp_path / "db.npy", f["bow"][()][db_rows])
        np.save(tmp_path / "q.npy", f["images"][()][q_rows[:3]])
        ids = [s.decode() for s in f["ids"][()][db_rows]]
    (tmp_path / "ids.txt").write_text("\n".join(ids) + "\n")
    result = run("index", "--model", exported / "1", "--inputs", tmp_path / "db.npy", "--ids", tmp_path / "ids.txt",
                 "--out", tmp_path / "mine.h5")
    assert result.exit_code == 0, result.output
    assert f"indexed {len(ids)} text codes (16 bits, flat)" in result.output
    by_inputs = run("search", tmp_path / "mine.h5", "--model", exported, "--inputs", tmp_path / "q.npy", "-k", 5)
    assert run("index", run_dir, "--out", tmp_path / "run.h5").exit_code == 0
    by_positions = run("search", tmp_path / "run.h5", "--run", run_dir, "--query", 0, "--query", 1, "--query", 2,
                       "-k", 5)
    assert hits(by_inputs.output) == hits(by_positions.output) and len(hits(by_inputs.output)) == 3


def test_search_input_errors_are_one_line(exported, tmp_path):
    (tmp_path / "t.txt").write_text("sky\n")
    np.save(tmp_path / "wrong.npy", np.zeros((2, 5), np.float32))
    index = exported / "index-text.h5"
    if not index.exists():
        run("index", "--model", exported)
    assert_one_line_error(run("search", index, "--model", exported, "--texts", tmp_path / "t.txt",
                              "--modality", "text"), "not strings")
    assert_one_line_error(run("search", index, "--model", exported, "--inputs", tmp_path / "wrong.npy"),
                          "shape (5,) per item")
    assert_one_line_error(run("search", index, "--model", exported, "--query", 10**6), "outside")
    assert_one_line_error(run("index", "--model", exported, "--ids", tmp_path / "t.txt"), "--ids names")


def test_index_needs_shipped_codes_or_inputs(run_dir, tmp_path):
    assert run("export", run_dir, "--out", tmp_path / "bare", "--no-codes").exit_code == 0
    assert_one_line_error(run("index", "--model", tmp_path / "bare"), "exported without codes")


def test_token_model_takes_text_strings_end_to_end(tags_model, tmp_path):
    """A token-sequence run folder -> export (vocabulary carried) -> index and search text files."""
    from tfhash.training.run_folder import save_model_file

    model, dataset, _ = tags_model
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    save_model_file(model, str(run_dir / "model.keras"))
    assert_one_line_error(run("export", run_dir, "--out", tmp_path / "m", "--no-codes"), "no vocabulary.txt")
    (run_dir / "vocabulary.txt").write_text("\n".join(dataset.vocabulary) + "\n")
    result = run("export", run_dir, "--out", tmp_path / "m", "--no-codes")
    assert result.exit_code == 0, result.output
    assert "text input: strings" in result.output
    texts = ["sky, clouds sunset", "Dog,beach", "w7 w8 w9 w10", "w11"]
    (tmp_path / "texts.txt").write_text("\n".join(texts) + "\n")
    (tmp_path / "queries.txt").write_text("SKY clouds,sunset\nw11,\n")
    assert run("index", "--model", tmp_path / "m", "--texts", tmp_path / "texts.txt",
               "--out", tmp_path / "i.h5").exit_code == 0
    found = run("search", tmp_path / "i.h5", "--model", tmp_path / "m", "--modality", "text",
                "--texts", tmp_path / "queries.txt", "-k", 1)
    assert found.exit_code == 0, found.output
    assert hits(found.output) == ["0:0", "3:0"]  # the same texts, written differently: distance 0


def test_exporting_a_token_model_needs_its_vocabulary(tags_model, tmp_path):
    from tfhash.export.saved_model import export_model

    model, dataset, _ = tags_model
    with pytest.raises(TfhashError, match="needs the vocabulary"):
        export_model(model, tmp_path / "m")
    with pytest.raises(TfhashError, match="built for"):
        export_model(model, tmp_path / "m", vocabulary=dataset.vocabulary[:-1])
    assert not os.path.exists(tmp_path / "m") or not os.listdir(tmp_path / "m")


def test_keras_doc_example(run_dir, export_dataset):
    code = doc_block("keras").replace("runs/sdch-wiki/model.keras", os.path.join(run_dir, "model.keras"))
    code = code.replace("runs/sdch-wiki", run_dir)
    with h5py.File(export_dataset) as f:
        images = f["images"][()][:5]
    scope = {"images": images}
    exec(compile(code, "docs/export.md[keras]", "exec"), scope)  # noqa: S102  (our own docs)
    expected = read_codes(os.path.join(run_dir, "codes.h5"))
    assert type(scope["model"]).method_name == "cca-itq"
    with h5py.File(export_dataset) as f:
        q_rows = f["splits/query"][()]
        q_images = f["images"][()][q_rows]
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(scope["model"].hash_image(q_images)).astype(np.int8),
                                  expected["query_image"])
