#!/usr/bin/env python3
"""Golden perplexities of count-based n-gram language models (NLTK's `Laplace` and `Lidstone`)
for attn's n-gram baseline (attn-runtime/src/metrics/ngram.rs, tests/golden_metrics.rs).

Provenance: attn-runtime/tests/fixtures/metrics/ngram.json comes from this script, run with NLTK
from PyPI:

    python3 -m venv /tmp/venv-np && /tmp/venv-np/bin/pip install nltk
    /tmp/venv-np/bin/python tools/gen_ngram_fixtures.py

Each case fits `Lidstone(gamma, order)` on training sentences with
`padded_everygram_pipeline(order, train)` and scores the test sentences' n-grams of
`pad_both_ends(sentence, n=order)` with `lm.perplexity`, and a few `lm.score(word, context)`.
Sentences are character or word tokens of short public-domain English (Genesis 1, KJV), and
test sentences hold tokens never seen in training (scored as `<UNK>`).
"""
import json
import os
import random

import nltk
from nltk.lm import Lidstone
from nltk.lm.preprocessing import pad_both_ends, padded_everygram_pipeline
from nltk.util import ngrams

OUT = os.path.join(os.path.dirname(__file__), "..", "attn-runtime", "tests", "fixtures", "metrics")

TEXT = """In the beginning God created the heaven and the earth.
And the earth was without form, and void; and darkness was upon the face of the deep.
And the Spirit of God moved upon the face of the waters.
And God said, Let there be light: and there was light.
And God saw the light, that it was good: and God divided the light from the darkness.
And God called the light Day, and the darkness he called Night.
And the evening and the morning were the first day.
And God said, Let there be a firmament in the midst of the waters.
And God made the firmament, and divided the waters.
And God called the firmament Heaven."""

TEST = """And God said, Let the waters under the heaven be gathered together unto one place.
And the dry land appeared, Zion quickly vexed."""


def case(name, train, test, order, gamma):
    train_ngrams, vocab = padded_everygram_pipeline(order, train)
    lm = Lidstone(gamma, order)
    lm.fit(train_ngrams, vocab)
    test_ngrams = [ng for s in test for ng in ngrams(pad_both_ends(s, n=order), order)]
    scores = []
    for ng in test_ngrams[:: max(1, len(test_ngrams) // 12)]:
        scores.append({"context": list(ng[:-1]), "word": ng[-1], "score": lm.score(ng[-1], list(ng[:-1]))})
    return {
        "name": name,
        "order": order,
        "gamma": gamma,
        "train": train,
        "test": test,
        "vocab_size": len(lm.vocab),
        "perplexity": lm.perplexity(test_ngrams),
        "scores": scores,
    }


def main():
    lines = TEXT.splitlines()
    tests = TEST.splitlines()
    chars = [list(l) for l in lines]
    words = [l.lower().replace(",", " ,").replace(".", " .").replace(";", " ;").replace(":", " :").split() for l in lines]
    test_chars = [list(l) for l in tests]
    test_words = [l.lower().replace(",", " ,").replace(".", " .").split() for l in tests]
    cases = []
    for order in (1, 2, 3, 4):
        for gamma in (1.0, 0.1):
            cases.append(case(f"chars-{order}-{gamma}", chars, test_chars, order, gamma))
            cases.append(case(f"words-{order}-{gamma}", words, test_words, order, gamma))
    rng = random.Random(5)
    rand = [[rng.choice("abcde") for _ in range(rng.randint(1, 12))] for _ in range(30)]
    rand_test = [[rng.choice("abcdef") for _ in range(rng.randint(1, 12))] for _ in range(8)]
    for order in (2, 5):
        cases.append(case(f"random-{order}", rand, rand_test, order, 0.5))
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "ngram.json"), "w") as f:
        json.dump({"provenance": "tools/gen_ngram_fixtures.py, NLTK " + nltk.__version__, "cases": cases}, f)
    print(f"wrote {len(cases)} cases")


if __name__ == "__main__":
    main()
