# The ten-task recipe's per-task settings, sourced by benchmarks/ten_tasks.sh, calculator_trained.sh,
# calculator_rows.sh and prompting_rows.sh: epochs (from each task's validation curve), the answer's token budget,
# and the Fine-tune-CoT template fcot picks for the task with its finetune key prefix.
epochs() { case $1 in gsm8k|commonsense_qa) echo 2;; *) echo 4;; esac; }
tokens() { case $1 in single_eq|addsub|multiarith|last_letter_concatenation|coin_flip) echo 128;; *) echo 160;; esac; }
template() { .venv/bin/python -c "from fcot.templates import rationale_template; print(rationale_template('$1'))"; }
key() { if [ "$(template "$1")" = ft_cot_choice ]; then echo zs_cot_choice; else echo zs_cot; fi; }
