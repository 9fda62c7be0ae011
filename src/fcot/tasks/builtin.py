"""The 12 Fine-tune-CoT benchmarks under the paper's keys (Ho et al., 2023, Table 1)."""

from __future__ import annotations

from fcot.tasks.task import DEFAULT_SPLIT, Task, register_task

BUILTIN_TASKS = [
    Task("single_eq", "number", float_compare=True, raw_format="mawps", raw_path="SingleEq/questions.json",
         description="SingleEq: one-equation arithmetic word problems (MAWPS)"),
    Task("addsub", "number", float_compare=True, raw_format="mawps", raw_path="AddSub/AddSub.json",
         description="AddSub: addition/subtraction word problems (MAWPS)"),
    Task("multiarith", "number", raw_format="mawps", raw_path="MultiArith/MultiArith.json",
         splits=(DEFAULT_SPLIT, "template"), description="MultiArith: multi-step arithmetic word problems (MAWPS)"),
    Task("gsm8k", "number", raw_format="gsm8k", raw_path="grade-school-math/test.jsonl",
         description="GSM8K: grade-school math, public test set"),
    Task("aqua", "choice", choices="ABCDE", raw_format="aqua", raw_path="AQuA/test.json",
         description="AQuA-RAT: algebra word problems with five options, public test set"),
    Task("svamp", "number", float_compare=True, raw_format="svamp", raw_path="SVAMP/SVAMP.json",
         description="SVAMP: varied arithmetic word problems"),
    Task("date_understanding", "choice", choices="ABCDEF", raw_format="bigbench_date",
         raw_path="Bigbench_Date/task.json", splits=(DEFAULT_SPLIT, "template"),
         description="BIG-bench Date Understanding (choices in the order the teacher saw)"),
    Task("tracking_shuffled_objects", "choice", choices="ABC", raw_format="bigbench_tracking",
         raw_path="Bigbench_object_tracking/task.json",
         description="BIG-bench Tracking Shuffled Objects, three objects"),
    Task("last_letter_concatenation", "text", raw_format="examples", raw_path="last_letters/last_letters.json",
         description="Last Letter Concatenation of four names (Zero-shot-CoT)"),
    Task("coin_flip", "yes_no", raw_format="examples", raw_path="coin_flip/coin_flip.json",
         description="Coin Flip after four people flip or not (Zero-shot-CoT)"),
    Task("commonsense_qa", "choice", choices="ABCDE", raw_format="commonsense_qa",
         raw_path="CommonsenseQA/dev_rand_split.jsonl", description="CommonsenseQA, public dev set"),
    Task("strategy_qa", "yes_no", raw_format="bigbench_yes_no", raw_path="StrategyQA/task.json",
         description="StrategyQA (BIG-bench version): implicit multi-hop yes/no questions"),
]

for _task in BUILTIN_TASKS:
    register_task(_task)
