"""Date understanding probes: does a rationale's last date agree with the option its answer names?

    python benchmarks/date_probes.py curated F_zs_cot_date_understanding.jsonl [--keep-consistent OUT.jsonl]
    python benchmarks/date_probes.py answers F_zs_cot_date_understanding__D_date_understanding.json   # a student's test answers
    python benchmarks/date_probes.py vote    F_..._t70_d8 file                                            # majority of D samples
    python benchmarks/date_probes.py shuffle F_zs_cot_date_understanding.jsonl --copies 3 OUT.jsonl       # options reordered
    python benchmarks/date_probes.py option-text F_zs_cot_date_understanding.jsonl text-first|letter-first OUT.jsonl
"""

import json
import random
import re
import sys
from collections import Counter, defaultdict
from datetime import datetime

MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec"
DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})|(" + MONTHS + r")\.? (\d{1,2})(?:st|nd|rd|th)?,? (\d{4})")
OPTION = re.compile(r"\(([A-F])\) (\d\d)/(\d\d)/(\d{4})")
OPTION_TEXT = re.compile(r"\(([A-Z])\) (.*?)(?= \([A-Z]\) |$)")  # (letter, text) of each listed option


def last_date(text):
    found = [(int(m[1]), int(m[2]), int(m[3])) if m[1] else (datetime.strptime(m[4][:3], "%b").month, int(m[5]), int(m[6]))
             for m in DATE.finditer(text)]
    return found[-1] if found else None


def options(question):
    return {k: (int(a), int(b), int(y)) for k, a, b, y in OPTION.findall(question)}


def agreement(question, rationale, letter):
    date = last_date(rationale)
    return "no date" if date is None else "same" if date == options(question).get(letter) else "other"


def curated(path, out=None):
    rows = [json.loads(line) for line in open(path)]
    tags = []
    for r in rows:
        rationale, answer = r["completion"].rsplit("-->", 1)
        tags.append(agreement(r["prompt"], rationale, answer.split()[0]))
    print(f"{len(rows)} rationales; last date is the answer's option: {dict(Counter(tags))}")
    if out:
        with open(out, "w") as f:
            f.writelines(json.dumps(r) + "\n" for r, t in zip(rows, tags) if t != "other")


def write_rows(rows, out):
    with open(out, "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    print(f"{len(rows)} samples written to {out}")


def shuffle(path, copies, out):
    """Each sample, then `copies` copies with its options in new orders (seeded); the answer letter and the
    letters the rationale names, `(C)` or `answer is C`, follow their options."""
    rng = random.Random(0)
    rows = []
    for r in map(json.loads, open(path)):
        head, listed = r["prompt"].removesuffix(" ###").split("Answer Choices: ")
        opts = OPTION_TEXT.findall(listed)
        letters, seen = [letter for letter, _ in opts], {tuple(text for _, text in opts)}
        rows.append(r)
        for k in range(1, copies + 1):
            for _ in range(20):
                order = opts[:]
                rng.shuffle(order)
                if tuple(text for _, text in order) not in seen:
                    break
            seen.add(tuple(text for _, text in order))
            new = {old: letters[i] for i, (old, _) in enumerate(order)}
            prompt = head + "Answer Choices: " + " ".join(f"({letters[i]}) {t}" for i, (_, t) in enumerate(order)) + " ###"
            body, answer = r["completion"].rsplit(" --> ", 1)
            body = re.sub(r"\(([A-F])\)", lambda m: f"({new.get(m[1], m[1])})", body)
            body = re.sub(r"(answer is )([A-F])\b", lambda m: m[1] + new.get(m[2], m[2]), body)
            letter, end = answer.split(" ", 1)
            completion = f"{body} --> {new[letter]} {end}"
            rows.append({**r, "completion_index": k, "input": prompt, "prompt": prompt, "label": completion,
                         "completion": completion})
    write_rows(rows, out)


LETTER_ONLY_ENDING = re.compile(r"\s*[^.\n]*\banswer is \(?[A-F]\)?\.?\s*$")
ENDINGS = {"text-first": "So the answer is {text}, option ({letter}).", "letter-first": "So the answer is ({letter}) {text}."}


def option_text(path, order, out):
    """Each rationale ends naming the gold option's text and letter ("So the answer is 05/02/2021, option (C).")
    in place of a closing sentence that named the letter alone ("Therefore, the answer is (C).")."""
    rows = []
    for r in map(json.loads, open(path)):
        body, answer = r["completion"].rsplit(" --> ", 1)
        body = LETTER_ONLY_ENDING.sub("", body)
        letter = answer.split()[0]
        text = dict(OPTION_TEXT.findall(r["prompt"].removesuffix(" ###")))[letter]
        completion = f"{body} {ENDINGS[order].format(text=text, letter=letter)} --> {answer}"
        rows.append({**r, "label": completion, "completion": completion})
    write_rows(rows, out)


def records(path):
    from fcot.evaluate import evaluate_completions
    from fcot.formats import CompletionDataset

    cd = CompletionDataset.load(path)
    return cd, evaluate_completions(cd).records


def answers(path):
    cd, recs = records(path)
    tally = Counter()
    for r in recs:
        c = cd.data[r["sample_index"]][r["completion_index"]]
        tag = agreement(c["question"], c["completion"].split("-->")[0], r["answer"])
        tally[(tag, "right letter" if r["correct"] else "wrong letter")] += 1
    print(f"{len(recs)} answers; (last date vs the gold option, letter): {dict(tally)}")


def vote(path):
    _, recs = records(path)
    by = defaultdict(list)
    for r in recs:
        by[r["sample_index"]].append(r)
    right = 0
    for rs in by.values():
        top = Counter(r["prediction"] for r in rs if r["prediction"]).most_common(1)
        right += bool(top) and any(r["correct"] for r in rs if r["prediction"] == top[0][0])
    print(f"{len(by)} questions, {len(recs)} samples: sample accuracy {sum(r['correct'] for r in recs) / len(recs):.4f}, "
          f"majority vote {right / len(by):.4f}")


if __name__ == "__main__":
    mode, path, *rest = sys.argv[1:]
    if mode == "curated":
        curated(path, rest[1] if rest[:1] == ["--keep-consistent"] else None)
    elif mode == "shuffle":
        shuffle(path, int(rest[1]), rest[2])
    elif mode == "option-text":
        option_text(path, *rest)
    else:
        {"answers": answers, "vote": vote}[mode](path)
