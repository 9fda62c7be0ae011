"""Batched `generate` (greedy and sampled) and `evaluate_model`: tiny random-init students, real MultiArith data."""

from __future__ import annotations

import importlib
from dataclasses import replace

import pytest
import torch

from fcot.errors import ConfigError
from fcot.evaluate.generate import EvalOptions, evaluate_model
from fcot.formats import CompletionDataset, completion_path
from fcot.precision import cpu_bf16_unit
from fcot.models.generate import generate, token_batches, trim_at_stop
from fcot.models import load_model, open_student, save_tiny_model

generation = importlib.import_module("fcot.models.generate")  # the module: fcot.models.generate is the function
PROMPTS = ["3 + 5 =", "Tom has 3 apples and buys 5 more. How many apples does he have?", "Q: x", "Answer Choices:"]


@pytest.fixture(scope="module")
def decoder(tmp_path_factory):
    return load_model(save_tiny_model(tmp_path_factory.mktemp("tiny") / "decoder", "decoder"))


@pytest.fixture(scope="module")
def encoder_decoder(tmp_path_factory):
    return load_model(save_tiny_model(tmp_path_factory.mktemp("tiny") / "t5", "encoder_decoder", seed=3))


@pytest.fixture(scope="module")
def student(decoder):
    """The tiny decoder as evaluation opens it (`fcot.models.open_student`)."""
    return open_student(decoder.model.name_or_path, device="cpu", precision="fp32")


def test_trim_at_stop_cuts_at_the_earliest_phrase():
    assert trim_at_stop(" 3 + 5 = 8 --> 8 END junk\nQ: next", ["\nQ:", "END"]) == (" 3 + 5 = 8 --> 8 ", True)
    assert trim_at_stop("no stop here", ["END"]) == ("no stop here", False)
    assert trim_at_stop("anything", []) == ("anything", False)


def test_cpu_bf16_detection_reads_cpu_flags(tmp_path):
    (tmp_path / "amx").write_text("flags\t\t: fpu avx2 amx_bf16 amx_tile\n")
    (tmp_path / "avx512").write_text("flags\t\t: fpu avx2 avx512f avx512_bf16\n")
    (tmp_path / "avx2").write_text("flags\t\t: fpu avx2 fma\n")
    assert cpu_bf16_unit(tmp_path / "amx") == "AMX"
    assert cpu_bf16_unit(tmp_path / "avx512") == "AVX512-BF16"
    assert cpu_bf16_unit(tmp_path / "avx2") is None
    assert cpu_bf16_unit(tmp_path / "missing") is None


def test_batches_hold_at_most_the_tokens_in_flight_longest_prompt_first():
    lengths = [100, 90, 50, 10, 10, 500]
    assert token_batches([5, 0, 1, 2, 3, 4], lengths, 3, 20, 300) == [[5], [0, 1], [2, 3, 4]]
    assert token_batches([5, 0, 1, 2, 3, 4], lengths, 64, 20, 10**6) == [[5, 0, 1, 2, 3, 4]]
    assert token_batches([0, 1], lengths, 1, 20, 10**6) == [[0], [1]]


@pytest.mark.parametrize("kind", ["decoder", "encoder_decoder"])
def test_a_small_cache_budget_cuts_batches_and_keeps_every_answer(kind, request, monkeypatch):
    loaded = request.getfixturevalue(kind)
    whole, _ = generate(loaded.model, loaded.tokenizer, PROMPTS, model_type=kind, max_new_tokens=6, batch_size=4)
    calls = []
    original = loaded.model.generate
    monkeypatch.setattr(loaded.model, "generate", lambda **kw: calls.append(len(kw["input_ids"])) or original(**kw))
    per_token = generation.kv_bytes_per_token(loaded.model)
    monkeypatch.setattr(generation, "KV_CACHE_BYTES", 2 * (20 + 6) * per_token)  # two rows of up to 20 tokens
    cut, _ = generate(loaded.model, loaded.tokenizer, PROMPTS, model_type=kind, max_new_tokens=6, batch_size=4)
    assert [g.text for g in cut] == [g.text for g in whole]
    assert max(calls) <= 2 and sum(calls) == len(PROMPTS)


@pytest.mark.parametrize("kind", ["decoder", "encoder_decoder"])
def test_batched_generation_matches_one_by_one_in_input_order(kind, request):
    loaded = request.getfixturevalue(kind)
    batched, stats = generate(loaded.model, loaded.tokenizer, PROMPTS, model_type=kind, max_new_tokens=6, batch_size=3)
    single = [generate(loaded.model, loaded.tokenizer, [p], model_type=kind, max_new_tokens=6, batch_size=1)[0][0]
              for p in PROMPTS]
    assert [g.text for g in batched] == [g.text for g in single]
    assert all(g.new_tokens <= 6 for g in batched)
    assert any(g.text for g in batched)
    assert stats.prompts == 4 and stats.new_tokens == sum(g.new_tokens for g in batched) > 0
    assert {g.finish_reason for g in batched} <= {"stop", "length"}


def test_generation_stops_at_a_stop_phrase_and_trims_it(decoder):
    free, _ = generate(decoder.model, decoder.tokenizer, PROMPTS, max_new_tokens=12)
    target = max(free, key=lambda g: len(g.text.strip()))
    phrase = target.text.strip()[2:4]  # a phrase the model is known to produce (greedy is deterministic)
    cut = target.text.find(phrase)
    stopped, _ = generate(decoder.model, decoder.tokenizer, PROMPTS, max_new_tokens=12, stop=[phrase])
    again = stopped[free.index(target)]
    assert again.text == target.text[:cut]
    assert again.finish_reason == "stop"
    assert again.new_tokens < 12


def test_sampling_is_seeded_and_differs_from_greedy(decoder):
    greedy, _ = generate(decoder.model, decoder.tokenizer, PROMPTS, max_new_tokens=8)
    sampled = []
    for _ in range(2):
        torch.manual_seed(0)
        outs, _ = generate(decoder.model, decoder.tokenizer, PROMPTS, max_new_tokens=8, temperature=1.0, top_p=0.9)
        sampled.append([g.text for g in outs])
    assert sampled[0] == sampled[1] != [g.text for g in greedy]


def test_bf16_generation_with_bf16_weights_or_bf16_matmuls(decoder, tmp_path):
    loaded = load_model(save_tiny_model(tmp_path / "tiny", "decoder"), dtype="bfloat16")
    outs, _ = generate(loaded.model, loaded.tokenizer, PROMPTS[:2], max_new_tokens=3, batch_size=2)
    assert loaded.model.dtype == torch.bfloat16 and len(outs) == 2
    outs, stats = generate(decoder.model, decoder.tokenizer, PROMPTS[:2], max_new_tokens=3, compute_dtype="bfloat16")
    assert decoder.model.dtype == torch.float32 and stats.new_tokens > 0  # autocast leaves the weights alone


def test_bf16_matmuls_cast_each_weight_once_and_frozen_weights_stay_frozen(tmp_path):
    model = load_model(save_tiny_model(tmp_path / "tiny", "decoder")).model
    frozen = [name for name, p in model.named_parameters() if "mlp" in name]  # as a LoRA base is while it trains
    for name, param in model.named_parameters():
        param.requires_grad_(name not in frozen)

    def casts(context) -> int:
        with context, torch.profiler.profile() as prof:
            for _ in range(3):
                model(input_ids=torch.tensor([[5, 6, 7]]))
        return sum(e.count for e in prof.key_averages() if e.key == "aten::_to_copy")

    every_pass = casts(generation.inference("cpu", "bfloat16"))  # frozen weights are cast again at every pass
    mlp_linears = sum(isinstance(m, torch.nn.Linear) for name, m in model.named_modules() if "mlp" in name)
    assert casts(generation.inference("cpu", "bfloat16", model)) == every_pass - 2 * mlp_linears > 0
    assert [name for name, p in model.named_parameters() if not p.requires_grad] == frozen


def test_evaluate_model_writes_paper_file_scores_and_resumes(student, shared_data, tmp_path):
    options = EvalOptions(limit=3, out_root=tmp_path, finetune_key="tiny_run", base_model="tiny", batch_size=2,
                          max_new_tokens=4, data_dir=shared_data)
    cd, evaluation = evaluate_model(student, "multiarith", "ft_cot_token", options)
    path = completion_path(tmp_path, "tiny", "ft_cot_token", "multiarith", finetune_key="tiny_run")
    assert path.name == "F_tiny_run__D_multiarith.json" and path.parent.name == "B_tiny__C_ft_cot_token"
    saved = CompletionDataset.load(path)
    assert saved.metadata["prediction_template"] == "ft_cot_token" and saved.metadata["finetune_key"] == "tiny_run"
    assert evaluation.n == 3 and len(saved) == 3
    first = saved.select()[0]
    assert first["prompt"].endswith(" ###") and isinstance(first["completion"], str)
    assert first["finish_reason"] in ("stop", "length")

    # Resume: an existing completion is kept (here replaced by a correct one), only new samples are generated.
    first["completion"] = f" reasoning --> {first['answer']}"
    saved.save(path)
    cd, evaluation = evaluate_model(student, "multiarith", "ft_cot_token", replace(options, limit=5))
    assert evaluation.n == 5 and len(CompletionDataset.load(path)) == 5
    assert cd.data[first["sample_index"]][0]["completion"] == first["completion"]
    record = next(r for r in evaluation.records if r["sample_index"] == first["sample_index"])
    assert record["correct"] and evaluation.accuracy >= 0.2


def test_zero_shot_cot_runs_two_steps_and_few_shot_uses_exemplars(student, shared_data, tmp_path):
    cd, evaluation = evaluate_model(student, "multiarith", "zs_cot",
                                    EvalOptions(limit=2, out_root=tmp_path, max_new_tokens=4, data_dir=shared_data))
    row = cd.select()[0]
    assert row["reasoning_prompt"].endswith("A: Let's think step by step.")
    assert row["prompt"].startswith(row["reasoning_prompt"] + row["reasoning_completion"])
    assert row["prompt"].endswith("Therefore, the answer (arabic numerals) is")
    assert completion_path(tmp_path, "decoder", "zs_cot", "multiarith").exists()
    cd, _ = evaluate_model(student, "multiarith", "fs_cot",
                           EvalOptions(limit=1, out_root=tmp_path, max_new_tokens=2, data_dir=shared_data))
    assert cd.select()[0]["prompt"].count("Q: ") > 2


def test_template_not_supported_by_model_type_is_a_config_error(encoder_decoder, shared_data, tmp_path):
    t5 = open_student(encoder_decoder.model.name_or_path, device="cpu")
    with pytest.raises(ConfigError, match="zs_cot does not support model type encoder_decoder"):
        evaluate_model(t5, "multiarith", "zs_cot", EvalOptions(limit=1, out_root=tmp_path, data_dir=shared_data))
    assert not (tmp_path / "completion_data").exists()
