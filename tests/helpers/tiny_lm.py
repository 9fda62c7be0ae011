"""Tiny random-init causal LMs with a byte-level BPE tokenizer, built offline; one can be taught a few answers."""

from __future__ import annotations

from pathlib import Path

CORPUS = [
    "Q: Tom has 3 apples and buys 5 more. How many apples does he have?",
    "A: Let's think step by step. 3 + 5 = 8. Therefore, the answer (arabic numerals) is 8.",
    "There were 12 birds on a tree and 4 flew away, so 12 - 4 = 8 birds are left.",
]

CHAT_TEMPLATE = "{% for m in messages %}<{{ m.role }}>{{ m.content }}\n{% endfor %}<assistant>"  # a minimal one


def build_tiny_model(path: Path, chat_template: str | None = None, corpus: tuple[str, ...] = ()) -> Path:
    """Save a 2-layer, 64-wide Llama with a byte-level BPE tokenizer (trained on CORPUS + corpus) to path."""
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(CORPUS + list(corpus), vocab_size=320 + 40 * len(corpus), min_frequency=1,
                            special_tokens=["<pad>", "<eos>"])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, pad_token="<pad>", eos_token="<eos>")
    if chat_template:
        tokenizer.chat_template = chat_template
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         pad_token_id=0, eos_token_id=1, bos_token_id=1, tie_word_embeddings=True)
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def teach_to_answer(path: Path, samples: list[dict], trigger: str, steps: int = 200) -> Path:
    """Overfit the model at path to give a short rationale and the gold answer to each sample, in both steps."""
    texts = []
    for s in samples:
        step1 = f"Q: {s['question']}\nA: Let's think step by step."
        rationale = f" So it is {s['answer']}."
        # after the rationale, step 1 ends (EOS) where step 2's prompt goes on: twice the former, so greedy decoding
        # ends step 1 there on every CPU instead of settling a near tie by rounding
        texts += [step1 + rationale] * 2 + [f"{step1}{rationale} \n{trigger} {s['answer']}."]
    return overfit(path, texts, steps)


def train_run(path: Path, task: str, samples: list[dict], template: str = "ft_cot_token", stop: str = "END") -> Path:
    """Make path an `fcot train` run folder whose model learnt each sample in the template's trained format."""
    import yaml

    from fcot.student import CONFIG_FILE
    from fcot.models.loading import DONE_MARKER
    from fcot.templates import format_input, format_label

    rows = [{**s, "rationale": rationale(s)} for s in samples]
    overfit(path, [format_input(template, r) + format_label(template, r, stop_phrase=stop) for r in rows])
    record = {"student": {"model": "tiny"}, "data": {"dataset_key": task, "template": template, "stop_phrase": stop}}
    (path / CONFIG_FILE).write_text(yaml.safe_dump(record), encoding="utf-8")
    (path / DONE_MARKER).touch()
    return path


def rationale(sample: dict) -> str:
    """The short rationale a tiny model learns for a sample."""
    return f"So it is {sample['answer']}."


def overfit(path: Path, texts: list[str], steps: int = 200) -> Path:
    """Train the model at path on texts (each ending in EOS) until it reproduces them, and save it."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    batch = tokenizer([t + tokenizer.eos_token for t in texts], return_tensors="pt", padding=True)
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-3)
    model.train()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model on shared CPUs: more threads only wait on each other
    try:
        for _ in range(steps):
            loss = model(**batch, labels=labels).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    finally:
        torch.set_num_threads(threads)
    assert loss.item() < 0.05, f"the tiny model did not memorise its texts (loss {loss.item():.3f})"
    model.save_pretrained(path)
    return path


ANSWERED = 3  # the first multiarith train questions the answering model knows
