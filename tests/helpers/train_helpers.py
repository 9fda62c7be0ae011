"""Tiny random-init students (GPT-2 and T5, 2 layers, 64 wide) with a word-level tokenizer, and small curated files."""

from __future__ import annotations

from pathlib import Path

import torch

from fcot.curate import CurateResult, curate, write_curated
from fcot.formats import CompletionDataset

TEACHER_FILES = "completion_data/B_text-davinci-002__C_zs_cot"


def word_tokenizer(texts: list[str], eos: str = "</s>"):
    """A word-level fast tokenizer over texts (short sequences keep tiny-model tests fast)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(texts, trainers.WordLevelTrainer(special_tokens=["<pad>", eos, "<unk>"]))
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token=eos, unk_token="<unk>")


def save_gpt2(path: Path, tokenizer, seed: int = 0) -> Path:
    """A 2-layer, 64-wide GPT-2 without dropout (so batch layouts can be compared exactly), with the tokenizer."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    config = GPT2Config(n_layer=2, n_embd=64, n_head=2, n_positions=256, vocab_size=len(tokenizer),
                        bos_token_id=1, eos_token_id=1, pad_token_id=0, resid_pdrop=0.0, embd_pdrop=0.0,
                        attn_pdrop=0.0)
    GPT2LMHeadModel(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def save_t5(path: Path, tokenizer, seed: int = 0) -> Path:
    """A 2-layer, 64-wide T5 saved with the tokenizer (which must append </s>)."""
    from tokenizers import processors
    from transformers import T5Config, T5ForConditionalGeneration

    tokenizer.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", tokenizer.eos_token_id)])
    torch.manual_seed(seed)
    config = T5Config(d_model=64, d_kv=16, d_ff=128, num_layers=2, num_heads=4, vocab_size=len(tokenizer),
                      decoder_start_token_id=0, pad_token_id=0, eos_token_id=tokenizer.eos_token_id)
    T5ForConditionalGeneration(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def curated_file(shared_data: Path, out: Path, model_type: str = "decoder", n: int = 8,
                 template: str = "ft_cot_token", task: str = "multiarith") -> Path:
    """The n shortest curated samples of a task, written like `fcot curate` does (JSONL + sidecar)."""
    cd = CompletionDataset.load(shared_data / TEACHER_FILES / f"D_{task}.json")
    result = curate(cd, task, template=template, model_type=model_type, data_dir=shared_data)
    shortest = sorted(result.samples, key=lambda s: len(s["input"]) + len(s["label"]))[:n]
    return write_curated(CurateResult(shortest, result.stats, result.config), out)


def all_texts(path: Path) -> list[str]:
    """Every input and label of a curated file (the tokenizer's training text)."""
    from fcot.formats import read_jsonl

    return [text for row in read_jsonl(path) for text in (row["input"], row["label"])]
