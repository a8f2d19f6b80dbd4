#!/usr/bin/env python3
"""Golden values of sacreBLEU and scikit-learn for attn's metrics (attn_runtime::metrics).

Provenance: attn-runtime/tests/fixtures/metrics/*.json come from this script, run with
sacreBLEU 2.6.0, scikit-learn 1.9.1 and NumPy 2.4.6 from PyPI on CPython 3.11:

    /root/torchenv/bin/pip install 'sacrebleu==2.6.0' 'scikit-learn==1.9.1'
    /root/torchenv/bin/python tools/gen_metric_fixtures.py

(any virtualenv works). The JSON output is committed, so CI needs no Python; rerun the script
only to add cases or to move to another sacreBLEU release (then also update
`SACREBLEU_VERSION` in attn-runtime/src/metrics/bleu.rs, since signatures carry the version).
Everything is deterministic: random cases come from `random.Random(SEED)`.

Files (each holds a "provenance" object and a "cases" list of inputs and expected outputs):
  tokenize_13a.json    Tokenizer13a()(line) for hand-written and random punctuation-heavy lines
  bleu.json            BLEU(...).corpus_score / sentence_score: score, counts, totals,
                       precisions, bp, sys_len, ref_len, signature and str(score)
  chrf.json            CHRF(...).corpus_score / sentence_score: score, signature, str(score)
  classification.json  accuracy_score, confusion_matrix, precision_recall_fscore_support for
                       every average (zero_division=0) and classification_report(output_dict)
Floats are written with Python's repr (shortest round-trip), so they parse back bit-exactly.
"""
import json
import logging
import os
import platform
import random
import warnings

import numpy as np
import sacrebleu
import sklearn
from sacrebleu.metrics import BLEU, CHRF
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a
from sklearn.metrics import (
    accuracy_score,
    classification_report,
    confusion_matrix,
    precision_recall_fscore_support,
)

SEED = 20240517
OUT = os.path.join(os.path.dirname(__file__), "..", "attn-runtime", "tests", "fixtures", "metrics")

PROVENANCE = {
    "generator": "tools/gen_metric_fixtures.py",
    "sacrebleu": sacrebleu.__version__,
    "scikit-learn": sklearn.__version__,
    "numpy": np.__version__,
    "python": platform.python_version(),
    "seed": SEED,
}

VOCAB = ["the", "a", "cat", "dog", "sat", "on", "mat", "ran", "to", "house", "big", "red"]
PUNCT = [".", ",", "!", "?", "'s", "-", "(", ")", '"', "&amp;", "3.5", "1,000", "10-12"]


def write(name, cases):
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, name)
    dump = lambda v: json.dumps(v, ensure_ascii=False)  # noqa: E731
    with open(path, "w", encoding="utf-8") as f:
        # one case per line: readable diffs without one line per number
        f.write('{"provenance": ' + dump(PROVENANCE) + ',\n "cases": [\n')
        f.write(",\n".join("  " + dump(case) for case in cases))
        f.write("\n]}\n")
    print(f"{path}: {len(cases)} cases")


# ---------------------------------------------------------------- 13a tokenizer


def tokenizer_cases(rng):
    lines = [
        "Hello, world! It's 3.14 or 1,000 (approx.)",
        "pages 10-12, e-mail and 3-4 -5 x-",
        "&quot;A&amp;B&quot; &lt;tag&gt; &amp;quot; & alone &AMP;",
        "drop <skipped> this<skipped>, join hyphen-\nated and line\nbreak",
        "a.,b 1.,2 .5 5. ,5 5, a.b a,b 1.2.3 ..., ,,, ...a",
        "$5 #1 @me 50% a+b=c [x] {y} ~z `q` ^ _ | \\ / : ; < > ?",
        "  leading and trailing   spaces\t\ttabs \r\n",
        "naïve café — “quotes” ‘single’ …",
        "ΟΔΟΣ, Straße. 東京、日本。 😀! a\u00a0b\u3000c\u001fd\u200be",
        "",
        " ",
        "-",
        "'quoted' 'tis rock'n'roll",
    ]
    alphabet = "ab1 2.,-'&;:\"()[]{}$%#@!?/\\^_`|~+*=<>\n\t" + "é"
    fragments = ["&quot;", "&amp;", "&lt;", "&gt;", "<skipped>", "-\n", "..", "1.5", "a-b"]
    for _ in range(200):
        parts = []
        for _ in range(rng.randint(0, 12)):
            if rng.random() < 0.2:
                parts.append(rng.choice(fragments))
            else:
                parts.append(rng.choice(alphabet))
        lines.append("".join(parts))
    tok = Tokenizer13a()
    return [{"input": line, "expected": tok(line)} for line in lines]


# ---------------------------------------------------------------- BLEU


def random_sentence(rng, lo=0, hi=14, punct=0.0):
    words = []
    for _ in range(rng.randint(lo, hi)):
        words.append(rng.choice(PUNCT) if rng.random() < punct else rng.choice(VOCAB))
    return " ".join(words)


def mutate(rng, sentence):
    """A hypothesis sharing part of the reference: words dropped, replaced, inserted, swapped."""
    words = sentence.split()
    out = []
    for w in words:
        r = rng.random()
        if r < 0.15:
            continue
        if r < 0.35:
            out.append(rng.choice(VOCAB))
        else:
            out.append(w)
        if rng.random() < 0.1:
            out.append(rng.choice(VOCAB))
    if len(out) > 2 and rng.random() < 0.3:
        i = rng.randrange(len(out) - 1)
        out[i], out[i + 1] = out[i + 1], out[i]
    return " ".join(out)


def bleu_expected(score, metric):
    return {
        "score": score.score,
        "counts": list(score.counts),
        "totals": list(score.totals),
        "precisions": list(score.precisions),
        "bp": score.bp,
        "sys_len": score.sys_len,
        "ref_len": score.ref_len,
        "signature": str(metric.get_signature()),
        "str": str(score),
    }


def bleu_config(tokenize="13a", lowercase=False, smooth="exp", value=None, eff=False):
    return {
        "tokenize": tokenize,
        "lowercase": lowercase,
        "smooth_method": smooth,
        "smooth_value": value,
        "effective_order": eff,
    }


def make_bleu(config):
    return BLEU(
        lowercase=config["lowercase"],
        tokenize=config["tokenize"],
        smooth_method=config["smooth_method"],
        smooth_value=config["smooth_value"],
        effective_order=config["effective_order"],
    )


def corpus_case(name, hyps, refs, **config):
    config = bleu_config(**config)
    metric = make_bleu(config)
    score = metric.corpus_score(hyps, refs)
    if config == bleu_config():
        assert sacrebleu.corpus_bleu(hyps, refs).score == score.score
    return {"name": name, "level": "corpus", "hyps": hyps, "refs": refs, "config": config,
            "expected": bleu_expected(score, metric)}


def sentence_case(name, hyp, refs, **config):
    config = {"eff": True, **config}
    config = bleu_config(**config)
    metric = make_bleu(config)
    score = metric.sentence_score(hyp, refs)
    if config == bleu_config(eff=True):
        assert sacrebleu.sentence_bleu(hyp, refs).score == score.score
    return {"name": name, "level": "sentence", "hyps": [hyp], "refs": refs, "config": config,
            "expected": bleu_expected(score, metric)}


def bleu_cases(rng):
    c = []
    hyps = ["The cat sat on the mat.", "It's a \"big\" dog &amp; a small-ish cat!",
            "Visit pages 10-12, or 3.5%.", "He said: (hello) [world]."]
    refs1 = ["The cat sat on a mat.", "It is a \"big\" dog & a small cat!",
             "See pages 10-12, or 3.5 %.", "He said: hello world."]
    refs2 = ["A cat was sitting on the mat.", "It's a big dog and a smallish cat!",
             "Visit page 10 - 12 or 3.5%.", "He said (hello) world."]
    c.append(corpus_case("corpus_default_1ref", hyps, [refs1]))
    c.append(corpus_case("corpus_default_2ref", hyps, [refs1, refs2]))
    c.append(corpus_case("corpus_tok_none", hyps, [refs1, refs2], tokenize="none"))
    for smooth, value in [("none", None), ("floor", None), ("floor", 0.125), ("add-k", None),
                          ("add-k", 0.5), ("exp", None)]:
        c.append(corpus_case(f"corpus_smooth_{smooth}_{value}", hyps[:2], [refs1[:2]],
                             smooth=smooth, value=value))
    # sparse matches (no 3- or 4-gram match): every smoothing, with and without effective order
    sparse_h = ["the cat on mat a sat", "dog ran"]
    sparse_r = ["the cat sat on the mat", "a dog ran"]
    for smooth, value in [("none", None), ("floor", None), ("add-k", None), ("exp", None)]:
        for eff in (False, True):
            tag = f"{smooth}_{'eff' if eff else 'noeff'}"
            c.append(corpus_case(f"corpus_sparse_{tag}", sparse_h, [sparse_r], smooth=smooth,
                                 value=value, eff=eff))
            c.append(sentence_case(f"sentence_sparse_{tag}", sparse_h[0], [sparse_r[0]],
                                   smooth=smooth, value=value, eff=eff))
    c.append(corpus_case("corpus_effective_order", ["a b", "c"], [["a b c", "c d"]], eff=True))

    mixed_h = ["The Cat SAT on THE mat .", "ΟΔΟΣ ΣΑΣ Straße İstanbul"]
    mixed_r = ["the cat sat on the Mat .", "οδος σας STRASSE i̇stanbul"]
    c.append(corpus_case("corpus_mixed_case", mixed_h, [mixed_r]))
    c.append(corpus_case("corpus_lowercase", mixed_h, [mixed_r], lowercase=True))
    c.append(sentence_case("sentence_lowercase", mixed_h[0], [mixed_r[0]], lowercase=True))

    uni_h = ["Müller aß Äpfel in München , 東京 は 大きい 😀", "naïve café — “quoted” …"]
    uni_r = ["Müller aß Äpfel in München, 東京 は 大きい 😀 !", "naïve café – “quoted” ..."]
    c.append(corpus_case("corpus_unicode", uni_h, [uni_r]))
    c.append(corpus_case("corpus_unicode_none", uni_h, [uni_r], tokenize="none"))
    ws_h = ["a\u00a0b\u3000c\u001fd e \n", "x <skipped> y-\nz &lt;q&gt;  \t"]
    ws_r = ["a b c d e", "x y z <q>"]
    c.append(corpus_case("corpus_whitespace_13a", ws_h, [ws_r]))
    c.append(corpus_case("corpus_whitespace_none", ws_h, [ws_r], tokenize="none"))

    # empty hypotheses, empty references, no matches
    c.append(corpus_case("corpus_one_empty_hyp", ["", "the cat sat"], [["a cat", "the cat sat"]]))
    c.append(corpus_case("corpus_all_empty_hyps", ["", ""], [["a cat", "the dog"]]))
    c.append(corpus_case("corpus_empty_ref", ["the cat", "a dog"], [["", "a dog"]]))
    c.append(corpus_case("corpus_no_match", ["x y z w"], [["a b c d"]]))
    c.append(corpus_case("corpus_unigrams_only", ["a b c d"], [["d c b a"]]))
    c.append(sentence_case("sentence_empty_hyp", "", ["the cat sat"]))
    c.append(sentence_case("sentence_no_match", "x y z", ["a b c"]))
    c.append(sentence_case("sentence_short_hyp", "cat", ["the cat sat on the mat"]))
    c.append(sentence_case("sentence_two_words", "the cat", ["the cat sat"]))
    c.append(sentence_case("sentence_long_hyp", "the cat sat on the mat and then it sat on the dog",
                           ["the cat sat on the mat"]))
    c.append(sentence_case("sentence_no_eff_order", "the cat", ["the cat sat"], eff=False))
    for smooth in ["none", "floor", "add-k"]:
        c.append(sentence_case(f"sentence_smooth_{smooth}", "the cat sat on a mat",
                               ["the cat sat on the mat"], smooth=smooth))
    # ties in closest reference length: hyp 5 words, refs 4 and 6 (and 6 and 4) -> 4
    tie_refs = [["the cat sat on mat", "a cat sat on the big mat"],
                ["a cat sat on the big mat", "the cat sat on mat"]]
    for i, refs in enumerate(tie_refs):
        c.append(sentence_case(f"sentence_ref_len_tie_{i}", "the cat sat on it", refs))
    c.append(corpus_case("corpus_ref_len_tie", ["the cat sat on it", "a b c"],
                         [["the cat sat on", "a b"], ["a cat sat on the mat", "a b c d"]]))
    c.append(sentence_case("sentence_three_refs", "the big red dog ran to the house",
                           ["a big dog ran home", "the red dog ran to a house", "the dog ran"]))
    c.append(sentence_case("sentence_clip_by_max_ref", "the the the the cat",
                           ["the cat", "the the cat", "a the"]))

    # random sentence pairs over a small vocabulary: partial n-gram matches
    pairs = []
    for _ in range(40):
        ref = random_sentence(rng, 0, 14, punct=0.15)
        hyp = mutate(rng, ref) if rng.random() < 0.9 else random_sentence(rng, 0, 10)
        ref2 = mutate(rng, ref)
        pairs.append((hyp, ref, ref2))
    for i, (hyp, ref, ref2) in enumerate(pairs):
        refs = [ref, ref2] if i % 3 == 0 else [ref]
        c.append(sentence_case(f"sentence_random_{i}", hyp, refs))
    hyps = [p[0] for p in pairs]
    c.append(corpus_case("corpus_random_1ref", hyps, [[p[1] for p in pairs]]))
    refs1, refs2 = [p[1] for p in pairs], [p[2] for p in pairs]
    c.append(corpus_case("corpus_random_2ref", hyps, [refs1, refs2]))
    c.append(corpus_case("corpus_random_floor", hyps[:10], [refs1[:10]], smooth="floor"))
    c.append(corpus_case("corpus_random_lc_none", [h.upper() for h in hyps], [refs1],
                         tokenize="none", lowercase=True))
    return c


# ---------------------------------------------------------------- chrF


def chrf_config(char_order=6, word_order=0, beta=2, lowercase=False, whitespace=False, eps=False):
    return {"char_order": char_order, "word_order": word_order, "beta": beta,
            "lowercase": lowercase, "whitespace": whitespace, "eps_smoothing": eps}


def chrf_case(name, level, hyps, refs, **config):
    config = chrf_config(**config)
    metric = CHRF(**config)
    if level == "corpus":
        score = metric.corpus_score(hyps, refs)
    else:
        score = metric.sentence_score(hyps[0], refs)
    return {"name": name, "level": level, "hyps": hyps, "refs": refs, "config": config,
            "expected": {"score": score.score, "signature": str(metric.get_signature()),
                         "str": str(score)}}


def chrf_cases(rng):
    c = []
    hyps = ["The cat sat on the mat.", "It's a \"big\" dog, (really) big!",
            "Müller aß 東京 😀"]
    refs1 = ["The cat sat on a mat.", "It is a big dog, really!", "Müller isst in 東京"]
    refs2 = ["A cat was sitting on the mat", "It's a big dog (really big)!", "Müller aß"]
    c.append(chrf_case("corpus_default", "corpus", hyps, [refs1]))
    c.append(chrf_case("corpus_2ref", "corpus", hyps, [refs1, refs2]))
    c.append(chrf_case("corpus_chrf_pp", "corpus", hyps, [refs1, refs2], word_order=2))
    c.append(chrf_case("corpus_lowercase", "corpus", [h.upper() for h in hyps], [refs1],
                       lowercase=True))
    c.append(chrf_case("corpus_whitespace", "corpus", hyps, [refs1], whitespace=True))
    c.append(chrf_case("corpus_eps", "corpus", hyps, [refs1], eps=True))
    c.append(chrf_case("corpus_beta1_order4", "corpus", hyps, [refs1], beta=1, char_order=4))
    c.append(chrf_case("corpus_empty_hyp", "corpus", ["", "a cat"], [["the cat", "a cat"]]))
    c.append(chrf_case("corpus_empty_ref", "corpus", ["the cat", "a cat"], [["", "a cat"]]))
    c.append(chrf_case("sentence_default", "sentence", [hyps[0]], [refs1[0]]))
    c.append(chrf_case("sentence_2ref", "sentence", [hyps[1]], [refs1[1], refs2[1]]))
    c.append(chrf_case("sentence_chrf_pp", "sentence", [hyps[1]], [refs1[1]], word_order=2))
    c.append(chrf_case("sentence_short", "sentence", ["ab"], ["abc"]))
    c.append(chrf_case("sentence_empty_hyp", "sentence", [""], ["abc"]))
    c.append(chrf_case("sentence_empty_hyp_eps", "sentence", [""], ["abc"], eps=True))
    c.append(chrf_case("sentence_no_match", "sentence", ["xyz"], ["abc"]))
    c.append(chrf_case("sentence_punct_pp", "sentence", ["(hi) there, you!"], ["hi (there) you !"],
                       word_order=2))
    pairs = []
    for i in range(30):
        ref = random_sentence(rng, 0, 12, punct=0.2)
        hyp = mutate(rng, ref)
        pairs.append((hyp, ref))
        c.append(chrf_case(f"sentence_random_{i}", "sentence", [hyp], [ref],
                           word_order=2 if i % 4 == 0 else 0))
    c.append(chrf_case("corpus_random", "corpus", [p[0] for p in pairs], [[p[1] for p in pairs]]))
    c.append(chrf_case("corpus_random_pp", "corpus", [p[0] for p in pairs], [[p[1] for p in pairs]],
                       word_order=2))
    return c


# ---------------------------------------------------------------- classification


def prf(y, p, **kw):
    pr, rc, f, s = precision_recall_fscore_support(y, p, zero_division=0, **kw)
    if s is None:
        return {"precision": float(pr), "recall": float(rc), "f1": float(f)}
    # support comes back as floats when no class has a true positive; it is a count either way
    assert all(float(x).is_integer() for x in s)
    support = [int(x) for x in s]
    return {"precision": pr.tolist(), "recall": rc.tolist(), "f1": f.tolist(), "support": support}


def classification_case(name, y, p, pos_label=None, cm_labels=None):
    labels = sorted(set(y) | set(p))
    exp = {
        "labels": labels,
        "accuracy": float(accuracy_score(y, p)),
        "confusion_matrix": confusion_matrix(y, p).tolist() if len(labels) <= 20 else None,
        "per_class": prf(y, p, average=None),
        "micro": prf(y, p, average="micro"),
        "macro": prf(y, p, average="macro"),
        "weighted": prf(y, p, average="weighted"),
    }
    if pos_label is not None:
        try:
            exp["binary"] = prf(y, p, average="binary", pos_label=pos_label)
        except ValueError as e:
            exp["binary_error"] = "InvalidPosLabel" if "pos_label" in str(e) else "NotBinary"
    if cm_labels is not None:
        exp["confusion_matrix_labels"] = confusion_matrix(y, p, labels=cm_labels).tolist()
    report = classification_report(y, p, output_dict=True, zero_division=0)
    exp["report"] = {
        "accuracy": report.get("accuracy", exp["micro"]["f1"]),
        "macro avg": report["macro avg"],
        "weighted avg": report["weighted avg"],
        "classes": [report[str(label)] for label in labels],
    }
    return {"name": name, "gold": list(y), "pred": list(p), "pos_label": pos_label,
            "cm_labels": cm_labels, "expected": exp}


def classification_cases(rng):
    c = []
    y = [rng.randint(0, 1) for _ in range(40)]
    p = [v if rng.random() < 0.7 else 1 - v for v in y]
    c.append(classification_case("binary_pos1", y, p, pos_label=1))
    c.append(classification_case("binary_pos0", y, p, pos_label=0, cm_labels=[1, 0]))
    y = [rng.choice([3, 7]) for _ in range(25)]
    p = [v if rng.random() < 0.6 else rng.choice([3, 7]) for v in y]
    c.append(classification_case("binary_labels_3_7", y, p, pos_label=7))
    c.append(classification_case("binary_bad_pos_label", y, p, pos_label=1))
    c.append(classification_case("single_label_absent_pos", [0, 0, 0], [0, 0, 0], pos_label=1))
    c.append(classification_case("single_label_present_pos", [2, 2], [2, 2], pos_label=2))
    c.append(classification_case("binary_never_predicted", [0, 1, 1, 0], [0, 0, 0, 0], pos_label=1))
    # 5 classes: class 4 never predicted, class 5 only predicted
    y = [rng.randint(0, 4) for _ in range(60)]
    p = [v if rng.random() < 0.55 else rng.choice([0, 1, 2, 3, 5]) for v in y]
    p = [5 if v == 4 else v for v in p]
    c.append(classification_case("multiclass_missing_classes", y, p, pos_label=1,
                                 cm_labels=[5, 4, 2, 9]))
    c.append(classification_case("multiclass_sparse_labels", [10, 3, 42, 42, 3, 10, 7],
                                 [3, 3, 42, 10, 3, 10, 10], cm_labels=[42, 3]))
    c.append(classification_case("all_correct", [1, 2, 3, 1], [1, 2, 3, 1]))
    c.append(classification_case("all_wrong", [0, 1, 2, 0], [1, 2, 0, 2]))
    # many classes: NumPy's pairwise sum over > 8 and > 128 values
    for name, n_cls, n in [("classes_13", 13, 300), ("classes_150", 150, 2000)]:
        classes = sorted(rng.sample(range(3 * n_cls), n_cls))
        y = [rng.choice(classes) for _ in range(n)]
        p = [v if rng.random() < 0.5 else rng.choice(classes) for v in y]
        c.append(classification_case(name, y, p))
    return c


def main():
    logging.getLogger("sacrebleu").setLevel(logging.ERROR)  # sentence BLEU without eff. order
    warnings.filterwarnings("ignore", category=UserWarning)  # single-label confusion matrices
    rng = random.Random(SEED)
    write("tokenize_13a.json", tokenizer_cases(rng))
    write("bleu.json", bleu_cases(rng))
    write("chrf.json", chrf_cases(rng))
    write("classification.json", classification_cases(rng))


if __name__ == "__main__":
    main()
