"""Bad input to every verb but `serve`: exit code 2, one `error:` line naming the fix, nothing left behind.

Each case runs the CLI in-process in a fresh folder of inputs (`workspace`) and checks that the folder is
unchanged afterwards and that no request reached the teacher server. No case loads a model.
Placeholders: {ro} an unwritable folder, {url} a live OpenAI-compatible server, {closed} a port nobody listens on.
"""

from __future__ import annotations

import json
import os
import socket
import warnings
from pathlib import Path

import pytest
from in_process import run_cli
from teacher.fault_server import FaultServer

CURATED = '{"input": "Tom has 3 apples. ###", "label": " 3 + 0 = 3 --> 3 END"}\n'
RESULT = {"task": "coin_flip", "method": "zero-shot", "model": "m", "template": "zs", "n": 2, "accuracy": 50.0}
COMPLETIONS = {"metadata": {"dataset_key": "gsm8k", "prediction_template": "zs_cot"},
               "data": {"0": [{"sample_index": 0, "completion_index": 0, "answer": "18", "completion": " 18."}]}}
LATIN1 = "Qu\xe9bec, caf\xe9\n".encode("latin-1")


def _workspace_files() -> dict[str, str | bytes]:
    """Inputs the cases point at, by relative path."""
    run_record = "student:\n  model: m\ndata:\n  dataset_key: coin_flip\n"
    other_run = "name: prev\ntasks: [addsub]\n"
    return {
        "afile": "not a folder\n",
        "latin1.jsonl": LATIN1, "latin1.json": LATIN1, "latin1.yaml": LATIN1, "latin1.csv": LATIN1,
        "curated.jsonl": CURATED, "empty.jsonl": "", "bad.jsonl": "{not json\n",
        "nolabel.jsonl": '{"input": "Q ###"}\n', "bad.json": "{not json", "bad.yaml": "a: [1\n",
        "list.yaml": "- 1\n- 2\n", "q.jsonl": '{"question": "1+1?", "answer": "2"}\n',
        "results.json": json.dumps([RESULT]), "empty_results/results.json": "[]",
        "dict_results.json": "{}", "bad_results.json": '[{"task": "x"}]',
        "D_gsm8k.json": json.dumps(COMPLETIONS), "D_latin1.json": LATIN1,
        "fakemodel/config.json": "{}", "emptydir/.keep": "",
        "unfinished/fcot.yaml": run_record,
        "badrun/fcot.yaml": "student: [1\n", "badrun/.fcot-complete": "",
        "latin1run/fcot.yaml": LATIN1, "latin1run/.fcot-complete": "",
        "fcot-out/prev/fcot.yaml": other_run, "fcot-out/prev/results.json": "[]",
        "D_truncated.json": json.dumps(COMPLETIONS)[:-20],  # an interrupted write of an older version
        "truncated.sqlite3": b"SQLite format 3\x00" + bytes(range(200)),
    }


T = ["teach", "--task", "multiarith", "--limit", "2"]
REC = [*T, "--teacher", "recorded:text-davinci-002"]
API = [*T, "--teacher", "openai:m", "--base-url", "{url}"]
EV = ["eval", "fakemodel", "--task", "coin_flip", "--limit", "1"]
TR = ["train", "curated.jsonl", "--model", "fakemodel"]

# (command, exit code, fragment of the one error line)
CASES = [
    # --- usage errors (typer) ---
    (["nosuchverb"], 2, "No such command 'nosuchverb'"),
    (["--bogus"], 2, "No such option: --bogus"),
    (["teach"], 2, "Missing option '--task'"),
    (["teach", "--task", "multiarith"], 2, "Missing option '--teacher'"),
    (["train", "curated.jsonl", "--threads", "0"], 2, "'--threads'"),
    (["run", "--threads", "many"], 2, "'--threads'"),
    (["eval", "fakemodel", "--limit", "0"], 2, "'--limit'"),
    (["eval", "fakemodel", "--batch-size", "0"], 2, "'--batch-size'"),
    (["eval", "fakemodel", "--max-new-tokens", "0"], 2, "'--max-new-tokens'"),
    ([*REC[:-2], "--limit", "0", *REC[-2:]], 2, "'--limit'"),
    ([*API, "--temperature", "warm"], 2, "'--temperature'"),
    (["curate", "multiarith", "--max-rationale-tokens", "0"], 2, "'--max-rationale-tokens'"),
    (["tasks", "--bogus"], 2, "No such option: --bogus"),
    (["score"], 2, "Missing argument"),
    (["eval"], 2, "Missing argument"),
    (["report", "results.json", "extra"], 2, "unexpected extra argument"),
    (["train", "curated.jsonl", "--epochs", "many"], 2, "'--epochs'"),
    # --- teach: options ---
    ([*T, "--teacher", "nobackend:m"], 2, "expected <backend>:<model>"),
    ([*T, "--teacher", "openai:"], 2, "expected <backend>:<model>"),
    (["teach", "--task", "nosuchtask", "--teacher", "openai:m"], 2, "unknown task 'nosuchtask'"),
    (["teach", "--task", "multiarth", "--teacher", "openai:m"], 2, "did you mean"),
    ([*API, "--prompt", "cot"], 2, "--prompt 'cot'"),
    ([*API, "--split", "dev"], 2, "--split 'dev'"),
    ([*API, "--samples", "0"], 2, "--samples 0"),
    ([*API, "--samples", "65", "--temperature", "0.7"], 2, "--samples 65"),
    ([*API, "--samples", "4"], 2, "identical rationales"),
    ([*API, "--temperature", "-1"], 2, "--temperature -1: Input should be greater than or equal to 0"),
    ([*API, "--temperature", "2.5"], 2, "--temperature 2.5: Input should be less than or equal to 2"),
    ([*API, "--temperature", "nan"], 2, "--temperature nan"),
    ([*API, "--rpm", "0"], 2, "--rpm 0: Input should be greater than or equal to 1"),
    ([*API, "--rpm", "-5"], 2, "--rpm -5: Input should be greater than or equal to 1"),
    ([*API, "--tpm", "0.5"], 2, "--tpm 0.5: Input should be greater than or equal to 1"),
    ([*API, "--max-retries", "-1"], 2, "--max-retries -1"),
    ([*API, "--timeout", "-5"], 2, "--timeout -5: Input should be greater than 0"),
    ([*API, "--timeout", "0"], 2, "--timeout 0"),
    ([*API, "--backoff", "-1"], 2, "--backoff -1"),
    ([*API, "--batch-poll", "0"], 2, "--batch-poll 0"),
    ([*API, "--save-every", "0"], 2, "--save-every 0"),
    ([*API, "--concurrency", "0"], 2, "--concurrency"),
    ([*API, "--max-tokens", "0"], 2, "--max-tokens"),
    ([*API, "--teacher-name", "/"], 2, "--teacher-name '/'"),
    ([*REC, "--batch"], 2, "--batch: the Batch API is for openai: teachers only, not recorded:"),
    ([*REC, "--base-url", "{url}"], 2, "set it only for openai: teachers (this one is recorded:)"),
    ([*T, "--teacher", "openai:gpt-4o-mini", "--api-key-env", "FCOT_TEST_NO_SUCH_KEY"], 2,
     "$FCOT_TEST_NO_SUCH_KEY is not set"),
    ([*T, "--teacher", "openai:m", "--base-url", "http://127.0.0.1:{closed}/v1", "--timeout", "1"], 2,
     "cannot reach http://127.0.0.1"),
    # --- teach: inputs and outputs ---
    ([*API, "--prices", "latin1.json"], 2, "latin1.json: not a UTF-8 text file"),
    ([*API, "--prices", "missing.json"], 2, "missing.json: no such file"),
    ([*API, "--prices", "bad.json"], 2, "not valid JSON"),
    (["teach", "--task", "latin1.jsonl", "--answer-type", "number", "--teacher", "openai:m"], 2, "not a UTF-8"),
    (["teach", "--task", "q.jsonl", "--teacher", "openai:m"], 2, "needs --answer-type"),
    (["teach", "--task", "q.jsonl", "--answer-type", "float", "--teacher", "openai:m"], 2, "unknown answer type"),
    ([*REC, "--data-dir", "nowhere"], 2, "no dataset/ folder"),
    ([*REC, "--out", "{ro}/out"], 2, "cannot write there"),
    ([*REC, "--out", "afile"], 2, "afile: is a file, where a folder is expected"),
    ([*REC, "--out", "afile/sub"], 2, "afile: is a file"),
    ([*API, "--out", "{ro}/out"], 2, "cannot write there"),
    ([*API, "--out", "afile"], 2, "afile: is a file"),
    ([*API, "--cache", "afile/c.sqlite3"], 2, "pass another --cache"),
    ([*API, "--cache", "{ro}/c.sqlite3"], 2, "pass another --cache"),
    ([*REC[:-1], "recorded:nowhere/D_x.json"], 2, "no recorded completions"),
    # --- curate ---
    (["curate", "nosuchtask"], 2, "unknown task 'nosuchtask'"),
    (["curate", "missing.json"], 2, "no such file or folder"),
    (["curate", "latin1.json"], 2, "latin1.json: not a UTF-8 text file"),
    (["curate", "bad.json"], 2, "not valid JSON"),
    (["curate", "emptydir"], 2, "no completion files"),
    (["curate", "multiarith", "--template", "zs"], 2, "template 'zs' cannot be trained on"),
    (["curate", "multiarith", "--model-type", "rnn"], 2, "model type 'rnn' is unknown"),
    (["curate", "multiarith", "--template", "ft_cot_natural", "--model-type", "encoder_decoder"], 2,
     "decoder-only"),
    (["curate", "multiarith", "--split", "test"], 2, "would train on test samples"),
    (["curate", "multiarith", "--split-name", "nosuch"], 2, "nosuch"),
    (["curate", "multiarith", "--out", "{ro}/out"], 2, "cannot write there"),
    (["curate", "multiarith", "--out", "afile"], 2, "afile: is a file"),
    (["curate", "multiarith", "--out", "afile/sub"], 2, "afile: is a file"),
    (["curate", "multiarith", "--platform", "openai", "--out", "afile"], 2, "afile: is a file"),
    (["curate", "multiarith", "--platform", "nosuch"], 2, "unknown platform 'nosuch'"),
    (["curate", "D_gsm8k.json", "--task", "q.jsonl"], 2, "needs --answer-type"),
    (["curate", "multiarith", "--data-dir", "nowhere"], 2, "no dataset/ folder"),
    # --- train ---
    (["train"], 2, "CURATED_FILE is missing"),
    (["train", "missing.jsonl"], 2, "missing.jsonl: no such file"),
    (["train", "latin1.jsonl"], 2, "latin1.jsonl: not a UTF-8 text file"),
    (["train", "bad.jsonl"], 2, "not a JSON line"),
    (["train", "empty.jsonl"], 2, "no training samples"),
    (["train", "nolabel.jsonl"], 2, "missing or empty 'label'"),
    (["train", "emptydir"], 2, "is a folder"),
    ([*TR, "--out", "{ro}/run"], 2, "cannot write there"),
    ([*TR, "--out", "afile"], 2, "afile: is a file"),
    ([*TR, "--out", "afile/run"], 2, "afile: is a file"),
    (["train", "curated.jsonl", "--model", "no-such-org/no-such-model"], 2, "not in the Hugging Face cache"),
    (["train", "curated.jsonl", "--model", "./nowhere"], 2, "no such model folder or file"),
    (["train", "curated.jsonl", "--model", "afile"], 2, "afile: not a model"),
    (["train", "curated.jsonl", "--model", "emptydir"], 2, "not a model folder"),
    ([*TR, "--epochs", "-1"], 2, "epochs"),
    ([*TR, "--lr", "0"], 2, "learning_rate"),
    ([*TR, "--batch-size", "0"], 2, "batch_size"),
    ([*TR, "--max-len", "2"], 2, "max_len"),
    ([*TR, "--batching", "weird"], 2, "batching"),
    ([*TR, "--precision", "fp8"], 2, "precision"),
    ([*TR, "--config", "latin1.yaml"], 2, "latin1.yaml: not a UTF-8 text file"),
    ([*TR, "--config", "missing.yaml"], 2, "no such config file"),
    ([*TR, "--config", "bad.yaml"], 2, "not valid YAML"),
    ([*TR, "--config", "list.yaml"], 2, "expected a mapping"),
    (["train", "--platform", "openai"], 2, "--base-model is missing"),
    (["train", "--platform", "nosuch", "--base-model", "b"], 2, "unknown platform 'nosuch'"),
    (["train", "--platform", "openai", "--base-model", "b", "--finetune-key", "k", "--out", "afile"], 2,
     "afile: is a file"),
    # --- eval ---
    (["eval", "fakemodel"], 2, "--task is missing"),
    ([*EV, "--calculator", "--base-url", "http://127.0.0.1:9/v1"], 2, "--calculator works in fcot's own decoding"),
    (["eval", "fakemodel", "--task", "nosuchtask"], 2, "unknown task 'nosuchtask'"),
    ([*EV, "--template", "nosuch"], 2, "nosuch"),
    ([*EV, "--split", "dev"], 2, "--split 'dev'"),
    ([*EV, "--precision", "fp8"], 2, "--precision 'fp8'"),
    ([*EV, "--out", "{ro}/out"], 2, "cannot write there"),
    ([*EV, "--out", "afile"], 2, "afile: is a file"),
    ([*EV, "--out", "afile/sub"], 2, "afile: is a file"),
    ([*EV, "--data-dir", "nowhere"], 2, "no dataset/ folder"),
    (["eval", "./nowhere", "--task", "coin_flip"], 2, "no such model folder or file"),
    (["eval", "no-such-org/no-such-model", "--task", "coin_flip"], 2, "not in the Hugging Face cache"),
    (["eval", "afile", "--task", "coin_flip"], 2, "afile: not a model"),
    (["eval", "unfinished", "--task", "coin_flip"], 2, "training run is unfinished"),
    (["eval", "badrun", "--task", "coin_flip"], 2, "not valid YAML"),
    (["eval", "latin1run", "--task", "coin_flip"], 2, "not a UTF-8 text file"),
    (["eval", "fakemodel", "--task", "q.jsonl"], 2, "needs --answer-type"),
    (["eval", "fakemodel", "--task", "latin1.csv", "--answer-type", "number"], 2, "not a UTF-8 text file"),
    (["eval", "k", "--platform", "nosuch", "--task", "coin_flip"], 2, "unknown platform 'nosuch'"),
    # --- score ---
    (["score", "missing.json"], 2, "no such file or folder"),
    (["score", "emptydir"], 2, "no D_*.json completion files"),
    (["score", "D_latin1.json"], 2, "not a UTF-8 text file"),
    (["score", "bad.json"], 2, "not valid JSON"),
    (["score", "empty.jsonl"], 2, "empty file"),
    (["score", "D_gsm8k.json", "--split", "dev"], 2, "unknown split part"),
    (["score", "D_gsm8k.json", "--answer-type", "number"], 2, "--answer-type needs --task"),
    (["score", "D_gsm8k.json", "--task", "latin1.csv", "--answer-type", "number"], 2, "not a UTF-8"),
    (["score", "D_gsm8k.json", "--split", "test", "--data-dir", "nowhere"], 2, "no dataset/ folder"),
    # --- report ---
    (["report", "empty_results"], 2, "the results list is empty"),
    (["report", "empty_results/results.json"], 2, "the results list is empty"),
    (["report", "emptydir"], 2, "no results.json"),
    (["report", "missing.json"], 2, "no such file"),
    (["report", "latin1.json"], 2, "not a UTF-8 text file"),
    (["report", "bad.json"], 2, "not valid JSON"),
    (["report", "dict_results.json"], 2, "expected a JSON list"),
    (["report", "bad_results.json"], 2, "result field"),
    (["report", "results.json", "--out", "{ro}/rep"], 2, "cannot write there"),
    (["report", "results.json", "--out", "afile"], 2, "afile: is a file"),
    (["report", "results.json", "--out", "afile/rep"], 2, "afile: is a file"),
    # --- run ---
    (["run", "missing.yaml"], 2, "no such config file"),
    (["run", "latin1.yaml"], 2, "not a UTF-8 text file"),
    (["run", "bad.yaml"], 2, "not valid YAML"),
    (["run", "list.yaml"], 2, "expected a mapping"),
    (["run", "--set", "novalue"], 2, "expected section.field=value"),
    (["run", "--set", "bogus=1"], 2, "bogus"),
    (["run", "--set", "tasks=[nosuchtask]"], 2, "unknown task 'nosuchtask'"),
    (["run", "--set", "tasks=[multiarith, nosuchtask]"], 2, "unknown task 'nosuchtask'"),
    (["run", "--set", "tasks=[]"], 2, "tasks"),
    (["run", "--set", "tasks=[q.jsonl]"], 2, "needs --answer-type"),
    (["run", "--set", "teacher.temperature=3"], 2, "temperature"),
    (["run", "--set", "teacher.samples=4"], 2, "identical rationales"),
    (["run", "--set", "teacher.teacher=nobackend:x"], 2, "expected <backend>:<model>"),
    (["run", "--set", "student.epochs=-1"], 2, "epochs"),
    (["run", "--set", "student.model=./nowhere"], 2, "no such model folder or file"),
    (["run", "--set", "student.model=no-such-org/no-such-model"], 2, "not in the Hugging Face cache"),
    (["run", "--set", "eval.split=dev"], 2, "eval.split"),
    (["run", "--set", "baselines=[xx]"], 2, "baselines"),
    (["run", "--set", "data_dir=nowhere"], 2, "no dataset/ folder"),
    (["run", "--set", "out={ro}/out"], 2, "cannot write there"),
    (["run", "--set", "out=afile"], 2, "afile: is a file"),
    (["run", "--set", "name=prev"], 2, "this experiment was run with other tasks"),
    (["run", "--set", "sweep={{eval.limit: [1, 2]}}"], 2, "eval.limit cannot be swept"),
    (["run", "--dry-run", "--set", "sweep={{nope.x: [1]}}"], 2, "nope.x cannot be swept"),
    (["run", "--set", "sweep={{student.epochs: [1, -1]}}"], 2, "point student.epochs=-1: student.epochs"),
    (["run", "--set", "split_name=nope"], 2, "no split 'nope'"),
    # --- validation, subsets, interrupted files ---
    (["eval", "fakemodel", "--task", "coin_flip", "--split", "validation"], 2, "no finished training run"),
    (["eval", "fakemodel", "--task", "coin_flip", "--split-name", "nope"], 2, "no split 'nope'"),
    (["curate", "multiarith", "--max-questions", "0"], 2, "'--max-questions'"),
    (["curate", "multiarith", "--samples", "0"], 2, "'--samples'"),
    (["train", "curated.jsonl", "--val-questions", "0"], 2, "'--val-questions'"),
    (["train", "curated.jsonl", "--val-fraction", "1.5"], 2, "val_fraction"),
    (["score", "D_truncated.json"], 2, "not valid JSON"),
    ([*REC, "--cache", "truncated.sqlite3"], 2, "cannot open the completion cache"),
    # --- tasks ---
    (["tasks", "--data-dir", "nowhere"], 2, "no dataset/ folder"),
    (["tasks", "--data-dir", "afile"], 2, "no dataset/ folder"),
]


@pytest.fixture(scope="module")
def server():
    with FaultServer() as running:
        yield running


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A folder holding every input file, as the working directory; yields the unwritable folder to use."""
    for name, content in _workspace_files().items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("FCOT_DATA_DIR", raising=False)
    if os.geteuid() == 0:  # root writes through permissions; a read-only pseudo filesystem stops it
        yield "/sys"
        return
    readonly = tmp_path / "readonly"
    readonly.mkdir()
    readonly.chmod(0o555)
    yield str(readonly)
    readonly.chmod(0o755)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tree(root: Path) -> dict[str, int | None]:
    return {str(p.relative_to(root)): (p.stat().st_size if p.is_file() else None) for p in root.rglob("*")}


@pytest.mark.parametrize("argv, code, fragment", CASES, ids=[" ".join(c[0])[:80] for c in CASES])
def test_bad_input(argv, code, fragment, workspace, server, capsys):
    values = {"ro": workspace, "url": server.url, "closed": _closed_port()}
    argv = [arg.format(**values) for arg in argv]
    before, sent = _tree(Path.cwd()), len(server.attempts)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        got, stderr = run_cli(argv, capsys)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert got == code, stderr
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], stderr
    assert not [w for w in caught if issubclass(w.category, UserWarning)], [str(w.message) for w in caught]
    assert _tree(Path.cwd()) == before  # nothing created, nothing half-written
    assert len(server.attempts) == sent  # refused before asking the teacher


def test_table_covers_every_verb_but_serve():
    verbs = {argv[0] for argv, _, _ in CASES}
    assert {"teach", "curate", "train", "eval", "score", "report", "run", "tasks"} <= verbs
    assert len(CASES) >= 100


def test_a_refused_run_does_not_block_the_corrected_one(workspace, capsys):
    from fcot.config import load_config
    from fcot.errors import ConfigError
    from fcot.pipeline import check_experiment

    assert run_cli(["run", "--set", "name=x", "--set", "tasks=[nosuchtask]"], capsys)[0] == 2
    assert not Path("fcot-out/x").exists()
    root = Path("fcot-out/x")
    root.mkdir(parents=True)
    (root / "fcot.yaml").write_text("tasks: [addsub]\n")  # a run that stopped before its first result
    assert [t.key for t in check_experiment(load_config(None, ["name=x", "tasks=[coin_flip]"]))] == ["coin_flip"]
    (root / "results.json").write_text("[]")
    with pytest.raises(ConfigError, match="run with other tasks"):
        check_experiment(load_config(None, ["name=x", "tasks=[coin_flip]"]))


def test_an_uncached_hub_model_fails_at_once(workspace, fcot):
    env = {"HF_HUB_OFFLINE": "", "FCOT_ONLINE": ""}  # the default: fcot sets offline mode itself
    result = fcot("train", "curated.jsonl", "--model", "no-such-org/no-such-model", cwd=Path.cwd(), env=env)
    assert result.code == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "not in the Hugging Face cache" in result.stderr and "FCOT_ONLINE=1" in result.stderr


def test_results_table_is_markdown_in_a_log(workspace, fcot):
    result = fcot("report", "results.json", "--out", "rep", env={"COLUMNS": "40"})
    assert result.code == 0, result.stderr
    assert "| coin_flip | zero-shot | m | — | 2 | 50.00 | 9.4–90.5 | — | — |" in result.stdout.splitlines()
