"""Calculator decoding: the result of an expression the completion ends in `=` is written for the model, the same in
batched torch generation, the torch stream, and the GGUF and ONNX exports' runtimes."""

from __future__ import annotations

import pytest
import yaml
from tiny_lm import overfit

from fcot.models import GenParams, open_student, read_run_info, save_tiny_model
from fcot.models.calculator import calculation
from fcot.models.continuous import ContinuousBatcher

PROMPT = "Tom has 3 apples and buys 5 more. How many apples does he have? ###"
WRONG = " 3 + 5 = 7 apples. --> 7 END"  # what the tiny model learns to say: the plan right, the sum wrong


@pytest.mark.parametrize("text, result", [
    ("She had 11 - 2 =", " 9"), ("11 - 2 = ", "9"), ("3 + 5 + 2 =", " 10"), ("(3 + 4) * 2 =", " 14"),
    ("30 - 7 = 23, and 23 + 35 =", " 58"), ("$3.50 x 4 =", " 14"), ("10 / 4 =", " 2.5"), ("10 / 3 =", " 3.33"),
    ("1,200 + 300 =", " 1500"), ("so 5 =", None), ("5 / 0 =", None), ("2 = 2", None), ("3 + =", None),
])
def test_an_expression_ending_in_equals_is_computed(text, result):
    assert calculation(text) == result


@pytest.fixture(scope="module")
def adder(tmp_path_factory):
    """A finished run whose tiny model answers PROMPT with WRONG (and an export of it in each format)."""
    from fcot.models.loading import DONE_MARKER

    path = save_tiny_model(tmp_path_factory.mktemp("adder"), texts=(PROMPT, WRONG))
    overfit(path, [PROMPT + WRONG] * 4)
    record = {"student": {"model": "tiny"}, "data": {"dataset_key": "multiarith", "template": "ft_cot_token",
                                                     "stop_phrase": "END", "calculator": True}}
    (path / "fcot.yaml").write_text(yaml.safe_dump(record), encoding="utf-8")
    (path / DONE_MARKER).write_text("done\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def exports(adder, tmp_path_factory) -> dict:
    """The adder run exported once in each format."""
    from fcot.export import export_run

    info, folder = read_run_info(adder), tmp_path_factory.mktemp("adder-exports")
    return {"gguf": export_run(adder, info, "gguf", "f32", folder / "adder.gguf"),
            "onnx": export_run(adder, info, "onnx", "fp32", folder / "adder-onnx")}


def test_every_backend_writes_the_sum_and_goes_on(adder, exports):
    torch_student = open_student(adder, threads=1, precision="fp32")
    plain, calc = GenParams(max_tokens=24, stop=("END",)), GenParams(max_tokens=24, stop=("END",), calculator=True)
    assert torch_student.complete([PROMPT], plain)[0].text.startswith(" 3 + 5 = 7")  # the model alone gets it wrong
    batched = [g.text for g in torch_student.complete([PROMPT, PROMPT], calc, batch_size=2)]
    assert batched[0] == batched[1] and batched[0].startswith(" 3 + 5 = 8")  # written for it; the model goes on
    continuous = ContinuousBatcher(torch_student.batch_rows(2)).complete([PROMPT], calc)  # fcot serve's path
    assert continuous[0][0].text == batched[0]
    for fmt, path in exports.items():
        assert read_run_info(path).calculator, fmt  # the export answers with the calculator without being told
        edge = open_student(path, threads=1)
        assert edge.complete([PROMPT], plain)[0].text.startswith(" 3 + 5 = 7"), fmt
        assert edge.complete([PROMPT], calc)[0].text == batched[0], fmt
        assert list(edge.stream(PROMPT, calc))[-1][0].text == batched[0], fmt


@pytest.mark.parametrize("fmt", ["torch", "gguf"])
def test_fcot_serve_with_a_calculator_writes_the_sum_in_answers_and_streams(adder, exports, fmt):
    import openai
    from serve_helpers import serve_in_thread

    from fcot.serve import create_app

    model = adder if fmt == "torch" else exports["gguf"]
    app = create_app(open_student(model, threads=1, precision="fp32"), model_name="adder", calculator=True)
    with serve_in_thread(app) as url:
        client = openai.OpenAI(base_url=url, api_key="none", max_retries=0)
        whole = client.completions.create(model="adder", prompt=PROMPT, max_tokens=24, stop=["END"], temperature=0)
        pieces = client.completions.create(model="adder", prompt=PROMPT, max_tokens=24, stop=["END"], temperature=0,
                                           stream=True)
        streamed = "".join(chunk.choices[0].text for chunk in pieces)
    assert whole.choices[0].text.startswith(" 3 + 5 = 8") and streamed == whole.choices[0].text


def test_validation_of_a_calculator_run_answers_with_the_calculator(adder):
    from fcot.models.loading import load_model
    from fcot.student.selection import ValidationScorer
    from fcot.tasks import get_task

    loaded = load_model(adder)
    budget = len(loaded.tokenizer(" 3 + 5 = 7", add_special_tokens=False)["input_ids"])  # answers end at the sum
    scorer = ValidationScorer(task=get_task("multiarith"), template="ft_cot_token", questions=[0], prompts=[PROMPT],
                              golds=["8"], stop=("END",), max_new_tokens=budget, precision="fp32")
    assert scorer(loaded.model, loaded.tokenizer) == (False,)  # the model alone says 7
    assert scorer.__class__(**{**scorer.__dict__, "calculator": True})(loaded.model, loaded.tokenizer) == (True,)
