"""Teaching a tiny model (`fcot.models.save_tiny_model`) a few answers, or making it a trained run folder."""

from __future__ import annotations

from pathlib import Path

CHAT_TEMPLATE = "{% for m in messages %}<{{ m.role }}>{{ m.content }}\n{% endfor %}<assistant>"  # a minimal one


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
