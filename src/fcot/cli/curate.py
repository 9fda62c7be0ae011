"""`fcot curate`: keep the teacher's correct rationales of the train split and write them as training samples."""

from __future__ import annotations

from pathlib import Path

import typer

from fcot.cli import app
from fcot.cli.common import AnswerTypeOption, DataDirOption, Optional, OutDirOption, SplitNameOption, console
from fcot.templates import STOP_PHRASE, TRAINABLE


@app.command()
def curate(
    sources: list[str] = typer.Argument(..., metavar="COMPLETIONS_FILE_OR_DIR...",
                                        help="Completion file (D_<task>.json), a folder of them, a Dataset file, or a "
                                        "task key (its recorded text-davinci-002 completions; its Dataset for "
                                        "ft_token). Several sources of one task make one training set, e.g. the "
                                        "teacher's and a student's own samples (`fcot eval RUN --split train -D 8`)."),
    template: Optional[str] = typer.Option(None, "--template", help=f"{', '.join(TRAINABLE)} (default: "
                                           "ft_cot_choice for multiple-choice tasks, else ft_cot_token; ft_token: "
                                           "vanilla fine-tuning on gold answers)."),
    model_type: str = typer.Option("decoder", "--model-type", help="decoder or encoder_decoder (T5-class)."),
    split: str = typer.Option("train", "--split", help="Part of the task's split to curate (never test)."),
    split_name: str = SplitNameOption,
    max_rationale_tokens: Optional[int] = typer.Option(
        None, "--max-rationale-tokens", min=1, help="Drop rationales longer than N words and punctuation marks."),
    dedupe: bool = typer.Option(False, "--dedupe/--no-dedupe", help="Drop repeated rationales of a question."),
    max_questions: Optional[int] = typer.Option(None, "--max-questions", min=1, help="Only the first N train "
                                                "questions of a seeded order, with all their completions (nested: "
                                                "the 8 are among the 32; none is held out for validation by fcot "
                                                "train with the same --seed)."),
    samples: Optional[int] = typer.Option(None, "--samples", "-D", min=1, help="Only the first d completions per "
                                          "question (a D=64 teacher file serves every smaller D)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the question order --max-questions takes from."),
    calculator: bool = typer.Option(False, "--calculator", help="Write each result a rationale states in words as an "
                                    "explicit step (`30 - 7 = 23`) for a student that decodes with a calculator "
                                    "(the key ends in _calc; its run answers with the calculator by default)."),
    stop_phrase: str = typer.Option(STOP_PHRASE, "--stop-phrase", help="Appended to each label after a space ('' for "
                                    "none); generation stops there."),
    platform: Optional[str] = typer.Option(None, "--platform", help="Write a hosted fine-tuning API's training "
                                           "file instead: finetune_data/P_<platform>/F_<key>.jsonl, e.g. openai."),
    data_format: str = typer.Option("chat", "--format", help="With --platform: chat (messages) or completion "
                                    "(prompt/completion, for babbage-002/davinci-002)."),
    validation_fraction: float = typer.Option(0.1, "--validation-fraction", help="With --platform: share of "
                                              "questions held out as the validation file (seeded)."),
    out: Path = OutDirOption,
    data_dir: Optional[Path] = DataDirOption,
    task_file: Optional[str] = typer.Option(None, "--task", help="Your own task file the completions answer "
                                            "(with --answer-type), so its answers can be checked."),
    answer_type: Optional[str] = AnswerTypeOption,
) -> None:
    """Write finetune_data/P_<model_type>/F_<key>.jsonl (+ .curate.json with config and stats) per task."""
    from collections import defaultdict

    from rich.table import Table

    from fcot.templates import check_trainable
    from fcot.curate import combine, curate, curated_path, load_sources, write_curated
    from fcot.formats import check_writable, finetune_data_path

    if template:
        check_trainable(template, model_type)
    check_writable(finetune_data_path(out, platform or model_type, "").parent)
    if task_file:
        from fcot.tasks import resolve_task

        resolve_task(task_file, answer_type)  # registers a custom task under its key
    options = dict(template=template, model_type=model_type, split=split, split_name=split_name, data_dir=data_dir,
                   stop_phrase=stop_phrase or None, max_questions=max_questions, samples=samples, seed=seed,
                   calculator=calculator)
    by_task = defaultdict(list)
    for src in [src for source in sources for src in load_sources(source, template, data_dir)]:
        by_task[src.dataset_key].append(curate(src, max_rationale_tokens=max_rationale_tokens, dedupe=dedupe,
                                               **options))
    results = []
    for curated in by_task.values():
        result = combine(curated, dedupe)
        if platform:
            from fcot.cli.platform import curate_for_platform

            path = curate_for_platform(platform, out, result, data_format, validation_fraction)
        else:
            path = write_curated(result, curated_path(out, result))
        results.append((result, path))

    folders = sorted({str(path.parent) for _, path in results})
    templates = ", ".join(sorted({result.stats.template for result, _ in results}))
    table = Table(title=f"curated {templates} for {model_type} models, {split} split",
                  caption=f"written to {', '.join(folders)}/F_*.jsonl")
    table.add_column("task", no_wrap=True)
    columns = ["train", "outputs", "correct", "long", "dupes", "no rationale", "kept"] + ["steps written"] * calculator
    for column in columns:
        table.add_column(column, justify="right")
    for result, path in results:
        s = result.stats
        cells = [s.split_samples, s.completions, s.correct, s.too_long, s.duplicates, s.no_rationale, s.kept]
        table.add_row(s.dataset_key, *map(str, cells + [s.annotated] * calculator))
    console.print(table)
