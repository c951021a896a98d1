"""Chapter 10's numbers: what pre-training buys on the speaker task (who speaks this speech?).

For each model: test accuracy, trainable parameters and training time (one torch thread):

- majority class; logistic regression on bags of character 1- and 2-grams (L2 picked on val);
- a GPT of the shipped model's size trained from scratch on the task, with a classification head;
- the shipped pre-trained GPT with a head: (a) linear probe on frozen features, (b) full
  fine-tuning, (c) the last block only, (d) LoRA (r=8) on the attention projections c_attn.

Every fine-tuning run is capped at ``TIME_LIMIT`` seconds of training (5 minutes in all,
evaluation included, on a 2-core machine). Also measured: how much of the task text the
pre-trained model has effectively memorised (its LM loss on the task's test speeches, which
mostly lie in its training split, against its loss on the corpus validation split), and
continued pre-training on one speaker's lines: that speaker's loss falls, the general
validation loss rises (forgetting).

    python -m coursekit.bench finetune
"""

from __future__ import annotations

import time

import numpy as np
import torch

import lmlib
from coursekit.bench import Measurement
from lmlib.finetune import (
    RECIPES,
    FeatureHead,
    GPTClassifier,
    accuracy,
    configure,
    train_classifier,
    trainable_parameters,
)
from lmlib.tasks import (
    LogisticRegression,
    bag_of_ngrams,
    encode_texts,
    majority_baseline,
    speaker_task,
)

TIME_LIMIT = 230.0  # seconds of training per run (evaluations come on top)


def load_data(tok, block_size: int):
    """The speaker task encoded for a GPT: ``(task, train, val, test)``, each split a tuple
    ``(idx, mask, labels)``."""
    task = speaker_task()

    def enc(ex):
        return (*encode_texts(ex.texts, tok, block_size), torch.as_tensor(ex.labels))

    return task, enc(task.train), enc(task.val), enc(task.test)


@torch.no_grad()
def features(clf: GPTClassifier, idx, mask, batch_size: int = 128) -> torch.Tensor:
    """Pooled features (N, C) of a whole split, in eval mode."""
    clf.eval()
    return torch.cat([clf.features(idx[i:i + batch_size], mask[i:i + batch_size])
                      for i in range(0, len(idx), batch_size)])


def bag_of_characters(task, tok, n_chars: int) -> dict:
    """Logistic regression on 1- and 2-gram frequencies of the first ``n_chars`` characters
    of each speech (what the GPT sees)."""
    start = time.perf_counter()
    X = {s: bag_of_ngrams([t[:n_chars] for t in getattr(task, s).texts], tok, orders=(1, 2))
         for s in ("train", "val", "test")}
    best = None
    for l2 in (1e-2, 1e-1, 1.0):
        model = LogisticRegression(l2).fit(X["train"], task.train.labels, task.n_classes)
        val = model.score(X["val"], task.val.labels)
        if best is None or val > best[0]:
            best = (val, l2, model)
    val, l2, model = best
    return dict(test=model.score(X["test"], task.test.labels), val=val,
                params=model.W.numel() + model.b.numel(), seconds=time.perf_counter() - start,
                note=f"1+2-gram counts, l2={l2:g} (picked on val)")


def fine_tune(gpt, method: str, train, val, test, n_classes: int, time_limit=TIME_LIMIT,
              pool: str | None = None) -> dict:
    """Train one method of :data:`lmlib.presets.RECIPES` and measure it (``pool``
    overrides the recipe's pooling)."""
    recipe = dict(RECIPES[method])
    pool = pool or recipe.pop("pool")
    recipe.pop("pool", None)
    start = time.perf_counter()
    if method == "scratch":
        torch.manual_seed(0)
        gpt = type(gpt)(gpt.config)  # same shape, fresh random weights
        clf = GPTClassifier(gpt, n_classes, pool=pool)
    else:
        clf = configure(GPTClassifier(gpt, n_classes, pool=pool), method)
    n_train = trainable_parameters(clf)
    if method == "probe":  # frozen body: compute the features once, then train the head
        feats = [features(clf, d[0], d[1]) for d in (train, val, test)]
        head = FeatureHead(clf.head)
        hist = train_classifier(head, (feats[0], None, train[2]), (feats[1], None, val[2]),
                                time_limit=time_limit, **recipe)
        test_acc = accuracy(head, feats[2], None, test[2])
    else:
        hist = train_classifier(clf, train, val, time_limit=time_limit, **recipe)
        test_acc = accuracy(clf, *test)
    return dict(test=test_acc, val=hist["best_val_acc"], params=n_train,
                seconds=time.perf_counter() - start, train_seconds=hist["seconds"],
                steps=hist["steps"][-1], best_step=hist["best_step"], model=clf)


@torch.no_grad()
def speech_lm_loss(gpt, texts, tok) -> float:
    """Mean next-character loss of ``gpt`` over the texts (each its own sequence)."""
    total, count = 0.0, 0
    for t in texts:
        ids = torch.as_tensor(tok.encode(t)[:gpt.config.block_size + 1])[None]
        if ids.shape[1] < 2:
            continue
        loss = gpt(ids[:, :-1], ids[:, 1:])[1]
        total += float(loss) * (ids.shape[1] - 1)
        count += ids.shape[1] - 1
    return total / count


def run() -> list[Measurement]:
    from lmlib.pretrained import load_pretrained

    lmlib.setup(quiet=True)
    gpt, tok = load_pretrained("shakespeare-gpt")
    task, train, val, test = load_data(tok, gpt.config.block_size)
    out = []

    def add(name, r, target=""):
        out.append(Measurement(f"{name} test acc", r["test"], "fraction", target,
                               f"val {r['val']:.3f}; " + r.get("note", "")))
        out.append(Measurement(f"{name} trainable", r["params"], "params"))
        out.append(Measurement(f"{name} time", r["seconds"], "s", "<= 300" if "steps" in r else "",
                               f"{r['steps']} steps, best val at {r['best_step']}"
                               if "steps" in r else ""))

    n_test = len(test[2])
    se = np.sqrt(0.25 / n_test)
    out.append(Measurement("test speeches", n_test, "count", "",
                           f"accuracy standard error <= {se:.3f}"))
    add("majority", dict(test=majority_baseline(task.train.labels, task.test.labels),
                         val=majority_baseline(task.train.labels, task.val.labels),
                         params=0, seconds=0.0, note=task.speakers[0]))
    add("bag-of-chars LR", bag_of_characters(task, tok, gpt.config.block_size))
    gpt, _ = load_pretrained("shakespeare-gpt")
    add("pretrained probe, last-token pool", fine_tune(gpt, "probe", train, val, test,
                                                      task.n_classes, pool="last"))
    for method in ("scratch", "probe", "full", "last", "lora"):
        gpt, _ = load_pretrained("shakespeare-gpt")
        r = fine_tune(gpt, method, train, val, test, task.n_classes)
        print(f"  {method}: test {r['test']:.3f} val {r['val']:.3f} {r['seconds']:.0f} s", flush=True)
        add({"scratch": "GPT from scratch", "probe": "pretrained probe",
             "full": "pretrained full FT", "last": "pretrained last block",
             "lora": "pretrained LoRA c_attn"}[method], r)

    gpt, tok = load_pretrained("shakespeare-gpt")
    from lmlib.data import load_text
    from lmlib.tasks import parse_speeches

    text = load_text("shakespeare")
    unseen = [s.text for s in parse_speeches(text) if s.start >= int(0.9 * len(text))]
    out.append(Measurement("LM loss, task test speeches", speech_lm_loss(gpt, task.test.texts, tok),
                           "nats/char", "", "read in pre-training (with their tags)"))
    out.append(Measurement("LM loss, speeches of val split", speech_lm_loss(gpt, unseen, tok),
                           "nats/char", "", "never read; same procedure"))
    out += continued_pretraining()
    return out


def continued_pretraining(speaker: str = "GLOUCESTER", steps: int = 150) -> list[Measurement]:
    """Continue training the shipped GPT on one speaker's speeches with lmlib.train."""
    from lmlib.data import shakespeare
    from lmlib.pretrained import load_pretrained
    from lmlib.scoring import score
    from lmlib.tasks import speaker_ids
    from lmlib.train import train

    gpt, tok = load_pretrained("shakespeare-gpt")
    _, _, val_ids = shakespeare()
    spk_train, spk_val = speaker_ids(speaker, tok)
    before = score(gpt, val_ids, protocol="windows"), score(gpt, spk_val, protocol="windows")
    start = time.perf_counter()
    train(gpt, spk_train, spk_val, **RECIPES["continued"], steps=steps, progress=False, plot=False)
    seconds = time.perf_counter() - start
    after = score(gpt, val_ids, protocol="windows"), score(gpt, spk_val, protocol="windows")
    return [
        Measurement(f"{speaker} held-out loss before", before[1], "nats/char"),
        Measurement(f"{speaker} held-out loss after", after[1], "nats/char", "< before",
                    f"{steps} steps of lmlib.train, {seconds:.0f} s"),
        Measurement("general val loss before", before[0], "nats/char"),
        Measurement("general val loss after", after[0], "nats/char", "> before", "forgetting"),
    ]
