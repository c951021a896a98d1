# ---
# jupyter:
#   jupytext:
#     notebook_metadata_filter: -jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ngrams-to-gpt/ngrams-to-gpt/blob/main/chapters/10_finetuning.ipynb)

# %% [markdown]
# # 10 · Pre-training and fine-tuning
#
# **What you will build:** a classification task made from Shakespeare itself (*who speaks
# this speech?*), two baselines, and a classification head on the course's pre-trained GPT.
# Then the four usual ways to fine-tune it, side by side with a GPT of the same size trained
# from scratch: a linear probe on frozen features, full fine-tuning, training only the last
# block, and LoRA. Finally, continued pre-training on one speaker's lines: the style moves,
# and the model forgets some of the rest.
#
# **Why pre-train at all?** Labels are expensive, raw text is not. The shipped GPT read a
# million characters with a free label at every position (the next character). Our task
# has about a thousand labelled speeches. The question of this chapter: how much does what
# the model learned from the free labels help with the expensive ones?
#
# **Prerequisites:** chapter 07 (the GPT and `lmlib.train`).
#
# **Time on a laptop CPU:** about 6 minutes in full mode (5.8 min measured with `make times` on one core of a 2-core server;
# five training runs of one to two minutes each); seconds in fast mode.

# %%
# Colab only: install the course library (lmlib) once. Elsewhere this does nothing.
import importlib.util
import subprocess
import sys

if "google.colab" in sys.modules and importlib.util.find_spec("lmlib") is None:
    # --no-deps keeps Colab's own torch, ipywidgets and ipykernel; then what lmlib adds
    pip = [sys.executable, "-m", "pip", "install", "--quiet"]
    course = "https://github.com/ngrams-to-gpt/ngrams-to-gpt"
    subprocess.run(pip + ["--no-deps", f"lmlib @ git+{course}@main"], check=True)
    subprocess.run(pip + ["numpy>=1.24", "matplotlib>=3.7", "anywidget>=0.9", "tqdm>=4.60",
                          "safetensors>=0.4"], check=True)
    importlib.invalidate_caches()
    print(f"Colab: installed lmlib from {course}; the corpora download on first use.")

# %%
import lmlib

lmlib.setup()

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn

import lmlib.finetune as ft
import lmlib.tasks as tasks
from lmlib.data import load_text, shakespeare
from lmlib.pretrained import load_pretrained

FAST = lmlib.FAST
tok, train_ids, val_ids = shakespeare()

# %% [markdown]
# ## 1. A task from the corpus: who speaks this speech?
#
# Tiny Shakespeare is a play script. Each speech starts with its speaker's tag on a line of
# its own and ends at a blank line:
#
# ```
# ROMEO:
# Is the day so young?
# ```
#
# A classification task falls out of it: strip the tag, give a model the speech, ask for
# the speaker. First we cut the script into speeches.

# %%
text = load_text("shakespeare")


def parse_speeches(text):
    """(speaker, speech) pairs: a 'NAME:' line, then the lines up to a blank line."""
    pairs = []
    for block in text.split("\n\n"):
        block = block.strip("\n")
        head, _, body = block.partition("\n")
        if head.endswith(":") and body.strip():
            pairs.append((head[:-1], body))
    return pairs


pairs = parse_speeches(text)
print(f"{len(pairs):,} speeches by {len({s for s, _ in pairs}):,} speakers")
print(pairs[100])

# %% [markdown]
# **Check yourself:** the library's parser (`lmlib.tasks.parse_speeches`, which also keeps
# where each speech lies in the corpus) finds the same speeches.

# %%
lib = tasks.parse_speeches(text)
assert [(s.speaker, s.text) for s in lib] == pairs
assert all(text[s.start:s.start + len(s.text)] == s.text for s in lib)

# %% [markdown]
# We keep the ten most frequent speakers and split their speeches once, with a fixed seed,
# into train / val / test (70 / 15 / 15 %), each speaker cut in the same proportions
# (a *stratified* split). `lmlib.tasks.speaker_task` does exactly this, so every run and
# every learner gets the same split.

# %%
task = tasks.speaker_task()
counts = task.class_counts()
print(f"train {len(task.train)}, val {len(task.val)}, test {len(task.test)} speeches")
fig, ax = plt.subplots(figsize=(9, 3.4))
bottom = np.zeros(task.n_classes)
for split in ("train", "val", "test"):
    ax.bar(task.speakers, counts[split], bottom=bottom, label=split)
    bottom += counts[split]
ax.set_ylabel("speeches")
ax.set_title("class balance: the ten most frequent speakers")
ax.tick_params(axis="x", rotation=45)
ax.legend()
plt.show()

# %%
from collections import Counter

top10 = Counter(s for s, _ in pairs).most_common(10)
assert [name for name, _ in top10] == task.speakers
assert len(task.train) + len(task.val) + len(task.test) == sum(n for _, n in top10)
assert not set(task.train.starts) & set(task.test.starts)  # no speech in two splits

# %% [markdown]
# The classes are not balanced, but not badly: GLOUCESTER has 211 speeches, JULIET and
# LEONTES 124 each. Always answering GLOUCESTER is right about 14% of the time, the first
# number any model must beat (chance with ten equal classes would be 10%). Two traps hide
# in the data:
#
# - **GLOUCESTER and KING RICHARD III are the same man** (Richard, Duke of Gloucester,
#   becomes king half-way through *Richard III*), and GLOUCESTER also names another Duke
#   in *Henry VI*. Expect the models to confuse them.
# - **Many speeches are very short.** "Ay, my lord." could be anyone.

# %%
lengths = np.array([len(t) for t in task.train.texts])
fig, ax = plt.subplots()
ax.hist(np.minimum(lengths, 600), bins=60)
ax.axvline(128, color="k", ls="--", label="the GPT's context (128 chars)")
ax.set_xlabel("speech length in characters (600+ in the last bin)")
ax.set_ylabel("speeches")
ax.legend()
plt.show()
print(f"median length {np.median(lengths):.0f} chars; {np.mean(lengths <= 20):.0%} are 20 chars or fewer; "
      f"{np.mean(lengths > 128):.0%} are cut to their first 128")
for k in (0, 1, 2):
    print(f"--- {task.speakers[task.train.labels[k]]}:\n{task.train.texts[k][:200]}")

# %% [markdown]
# In fast mode (CI) we work on small subsets of each split; numbers are then meaningless,
# only the code is exercised.

# %%
def subset(examples, n):
    return tasks.Examples(examples.texts[:n], examples.labels[:n], examples.starts[:n])


if FAST:
    task = tasks.SpeakerTask(task.speakers, subset(task.train, 64), subset(task.val, 32),
                             subset(task.test, 32))

# %% [markdown]
# ## 2. Baselines: the majority class and a bag of characters
#
# Before any neural network, two baselines. The **majority class** ignores the input. A
# **bag of characters** counts how often each character (and each pair of characters)
# occurs in the speech, ignoring order, and feeds these frequencies to a **logistic
# regression**: `p(speaker | x) = softmax(W x + b)`. It can pick up a speaker's favourite
# letters and punctuation, some names ("Kate" for Petruchio), and little more.
#
# The unigram features by hand:

# %%
def bag_of_chars(texts, tok):
    X = np.zeros((len(texts), tok.vocab_size), dtype=np.float32)
    for i, t in enumerate(texts):
        ids = tok.encode(t)
        X[i] = np.bincount(ids, minlength=tok.vocab_size) / len(ids)
    return X


X_demo = bag_of_chars(task.train.texts[:50], tok)
np.testing.assert_allclose(X_demo, tasks.bag_of_ngrams(task.train.texts[:50], tok, orders=(1,)), rtol=1e-6)
np.testing.assert_allclose(X_demo.sum(1), 1.0, rtol=1e-5)

# %% [markdown]
# The library version adds the 65² character pairs. To be fair to the GPT, which reads at
# most 128 characters, the regression sees the same first 128 characters of each speech.
# Its L2 penalty is picked on the validation split, never on the test split.

# %%
majority_acc = tasks.majority_baseline(task.train.labels, task.test.labels)
t0 = time.perf_counter()
orders = (1,) if FAST else (1, 2)
X = {s: tasks.bag_of_ngrams([t[:128] for t in getattr(task, s).texts], tok, orders)
     for s in ("train", "val", "test")}
fits = {l2: tasks.LogisticRegression(l2).fit(X["train"], task.train.labels, task.n_classes)
        for l2 in (1e-2, 1e-1, 1.0)}
val_scores = {l2: m.score(X["val"], task.val.labels) for l2, m in fits.items()}
best_l2 = max(val_scores, key=val_scores.get)
bag_acc = fits[best_l2].score(X["test"], task.test.labels)
bag_time = time.perf_counter() - t0
print(f"majority: test accuracy {majority_acc:.3f}")
print(f"bag of characters: val {val_scores}, picked l2={best_l2}; test accuracy {bag_acc:.3f} "
      f"({bag_time:.1f} s)")
if not FAST:
    assert bag_acc > majority_acc + 0.05

# %% [markdown]
# ## 3. The pre-trained GPT, and a head for classification
#
# The shipped model is the GPT of chapter 07 (4 layers, 4 heads, 128 channels, 0.8M
# parameters) trained to predict the next character of the first 90% of the corpus.

# %%
gpt, gpt_tok = load_pretrained("shakespeare-gpt")
assert gpt_tok.itos == tok.itos  # the same characters, the same ids
block_size = 64 if FAST else gpt.config.block_size
start = torch.as_tensor(tok.encode("ROMEO:\n"))[None]
print(tok.decode(gpt.generate(start, 150, temperature=0.8, top_k=20,
                              generator=torch.Generator().manual_seed(0))[0]))

# %% [markdown]
# **An honest caveat before we measure.** Pre-training read the first 90% of the corpus
# *with the tags*: it has seen almost every speech of our task next to its speaker's name,
# test speeches included (only PETRUCHIO's lie mostly in the last 10%). Could the GPT simply
# remember them? A model that memorised its training text would have a much lower loss on
# it than on text it never saw. We measure its loss the same way (each speech on its own,
# its first 128 characters) on the task's test speeches and on the speeches of the last
# 10% of the corpus, which pre-training never read:

# %%
@torch.no_grad()
def lm_loss_of(model, texts):
    total, count = 0.0, 0
    for t in texts:
        ids = torch.as_tensor(tok.encode(t)[:model.config.block_size + 1])[None]
        if ids.shape[1] > 1:
            total += model(ids[:, :-1], ids[:, 1:])[1].item() * (ids.shape[1] - 1)
            count += ids.shape[1] - 1
    return total / count


unseen_texts = [s.text for s in lib if s.start >= len(train_ids)]  # the LM's val split
n_check = 40 if FAST else 400
seen = lm_loss_of(gpt, task.test.texts[:n_check])
unseen = lm_loss_of(gpt, unseen_texts[:n_check])
print(f"LM loss on the task's test speeches (read in pre-training): {seen:.3f} nats/char")
print(f"LM loss on speeches pre-training never read:                {unseen:.3f} nats/char")

# %% [markdown]
# The benchmark measured 1.31 nats/char on speeches the model read and 1.49 on speeches it
# never read (other plays, so part of the gap is the plays themselves). The model knows its
# training text better than new text (1.31 is about its training loss), but it learned
# Shakespeare's spelling and habits, not the speeches: a model that had memorised them would
# be near 0 on the first.
# Keep the caveat in mind anyway; a rigorous study would pre-train on text disjoint from
# the test speeches.
#
# ### The head
#
# A GPT turns a sequence (B, T) into features (B, T, C): the output of the last LayerNorm,
# which its language-model head would turn into next-character scores. For a class we
# need **one** vector per speech. Two common choices (*pooling*):
#
# - **last**: the features at the last real character. In a causal model it is the only
#   position that has seen the whole speech.
# - **mean**: the average over all real characters.
#
# Speeches differ in length, so a batch is **padded** on the right to the longest one, and a
# mask says which positions are real. Padding on the *right* matters: causal attention
# lets a position see only what comes before it, so no real character ever sees the
# padding. The pooling must then skip the padded positions. A linear layer `head`
# (C → K) turns the pooled vector into K class scores.

# %%
def features_by_hand(gpt, idx):
    """(B, T) -> (B, T, C): embeddings, the blocks, the final LayerNorm (no lm_head)."""
    tr = gpt.transformer
    x = tr.wte(idx) + tr.wpe(torch.arange(idx.shape[1]))
    for block in tr.h:
        x, _ = block(x)
    return tr.ln_f(x)


def pool_by_hand(h, mask, how):
    """h (B, T, C), mask (B, T) True on real tokens -> (B, C)."""
    lengths = mask.sum(1)
    if how == "last":
        return h[torch.arange(len(h)), lengths - 1]
    return (h * mask[..., None]).sum(1) / lengths[:, None]


idx, mask = tasks.encode_texts(task.train.texts[:8], tok, block_size)
print("a batch:", tuple(idx.shape), "real tokens per row:", mask.sum(1).tolist())
with torch.no_grad():
    h = features_by_hand(gpt, idx)
    torch.testing.assert_close(h, ft.hidden_states(gpt, idx))
    torch.testing.assert_close(gpt.lm_head(h), gpt(idx)[0])  # what the LM head reads
    for how in ("last", "mean"):
        torch.testing.assert_close(pool_by_hand(h, mask, how), ft.pool(h, mask, how))

# %% [markdown]
# **Check yourself:** with the mask, a padded speech gets exactly the features it gets
# alone, whatever junk sits in the padding. `lmlib.finetune.GPTClassifier(gpt, n_classes,
# pool="last")` wraps the body, the pooling and the head.

# %%
clf = ft.GPTClassifier(gpt, task.n_classes, pool="last").eval()
with torch.no_grad():
    junk = idx.clone()
    junk[~mask] = 7  # change every padded position
    padded = clf(junk, mask=mask)[0]
    alone = torch.cat([clf(idx[i:i + 1, :int(mask[i].sum())])[0] for i in range(len(idx))])
torch.testing.assert_close(padded, alone, atol=1e-5, rtol=0)
print("logits", tuple(padded.shape), "- the head is untrained, so these scores mean nothing yet:",
      padded[0, :4].numpy().round(3))

# %% [markdown]
# ## 4. Which parameters train
#
# Fine-tuning is ordinary training in which we choose what may change. In PyTorch a
# parameter with `requires_grad = False` gets no gradient and the optimizer leaves it
# alone; everything else is the same loop. Four choices:
#
# | method | what trains |
# |---|---|
# | (a) linear probe | the head only: the body is a frozen feature extractor |
# | (b) full fine-tuning | everything |
# | (c) last block | the last Transformer block, the final LayerNorm and the head |
# | (d) LoRA | small low-rank matrices beside the attention projections, and the head |
#
# Counting the trainable parameters by hand (a tied tensor counts once, which
# `model.parameters()` already ensures):

# %%
def count_trainable(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


fresh = ft.GPTClassifier(load_pretrained("shakespeare-gpt")[0], task.n_classes)
for p in fresh.gpt.parameters():  # (a) the linear probe
    p.requires_grad = False
C, K = gpt.config.n_embd, task.n_classes
assert count_trainable(fresh) == ft.trainable_parameters(fresh) == C * K + K
print(f"linear probe: {count_trainable(fresh):,} trainable of "
      f"{sum(p.numel() for p in fresh.parameters()):,}")

# %% [markdown]
# ## 5. LoRA: a low-rank update beside a frozen layer
#
# Full fine-tuning changes every weight matrix W (d_out × d_in). LoRA (Hu et al., 2021)
# bets that the *change* a task needs is of low rank: it freezes W and learns
#
# $$ y = x W^\top + b + \frac{\alpha}{r}\, x A^\top B^\top, \qquad A \in \mathbb{R}^{r \times d_\text{in}},\; B \in \mathbb{R}^{d_\text{out} \times r} $$
#
# with a small rank r. That is r·(d_in + d_out) numbers instead of d_in·d_out. `B` starts at
# zero, so at first the model is exactly the pre-trained one; `A` starts random (if both
# were zero, neither would ever get a gradient). α/r scales the update so that changing r
# does not change the learning rate one needs. Here it is on the attention projection
# `c_attn` (C → 3C) of each block:

# %%
class LoRAByHand(nn.Module):
    def __init__(self, base, r, alpha):
        super().__init__()
        self.base, self.scale = base, alpha / r
        base.weight.requires_grad = False
        base.bias.requires_grad = False
        self.A = nn.Parameter(torch.randn(r, base.in_features) / base.in_features ** 0.5)
        self.B = nn.Parameter(torch.zeros(base.out_features, r))

    def forward(self, x):
        return self.base(x) + self.scale * (x @ self.A.T) @ self.B.T


torch.manual_seed(0)
layer = nn.Linear(C, 3 * C)
mine = LoRAByHand(layer, r=8, alpha=16)
theirs = ft.LoRALinear(layer, r=8, alpha=16)
x = torch.randn(2, 5, C)
torch.testing.assert_close(mine(x), layer(x))  # B = 0: no change yet
with torch.no_grad():
    mine.B.normal_()
    theirs.lora_A.copy_(mine.A)
    theirs.lora_B.copy_(mine.B)
torch.testing.assert_close(mine(x), theirs(x))
print(f"c_attn: {layer.weight.numel():,} weights; LoRA r=8 trains {8 * (C + 3 * C):,}")

# %% [markdown]
# `apply_lora(model, r, alpha, targets=("c_attn",))` wraps every matching `nn.Linear`, freezes
# the rest of the model and returns the new modules. After training, `merge_lora(model)`
# folds each update into its weight, `W ← W + (α/r) B A`, and puts plain `nn.Linear`s back.
#
# > **Myth:** LoRA makes a fine-tuned model smaller or faster to run.
# >
# > **Fact:** after merging, the model has exactly the architecture, size and speed of the
# > original. What LoRA shrinks is what *trains* (so the gradients and the optimizer's
# > state), and what you must store per task: the small A and B instead of a whole copy.

# %%
demo = load_pretrained("shakespeare-gpt")[0].double()  # float64: the merge is exact maths
n_before = sum(p.numel() for p in demo.parameters())
wrapped = ft.apply_lora(demo, r=8, alpha=16)
with torch.no_grad():
    for m in wrapped:  # pretend training moved B
        m.lora_B.normal_(std=0.05)
    with_lora = demo(idx)[0]
ft.merge_lora(demo)
with torch.no_grad():
    merged = demo(idx)[0]
# in float32 the two orders of the sums differ by rounding (about 1e-6 of the logits' size)
torch.testing.assert_close(merged, with_lora, atol=1e-10, rtol=0)
assert sum(p.numel() for p in demo.parameters()) == n_before
print(f"{len(wrapped)} layers wrapped and merged back; {n_before:,} parameters before and after")

# %% [markdown]
# ## 6. Fine-tuning, side by side
#
# Five classifiers of the same shape (the shipped GPT's size, with a head), trained on the
# same 1,076 speeches: one from random weights, four from the pre-trained weights. The loop
# (`lmlib.finetune.train_classifier`) is chapter 07's in miniature: AdamW on the trainable
# parameters, warm-up and cosine decay (`lmlib.train.lr_at`), clipping, and batches of
# speeches of similar length so that little time goes into padding. Every few steps it
# measures validation accuracy and at the end keeps the weights of the best one (early
# stopping). The recipes (pooling, steps, learning rates) are in `lmlib.finetune.RECIPES`:
# every run gets the same 400 steps; LoRA's fresh matrices and the lone head take larger
# learning rates than the pre-trained weights, which should move only a little.
#
# For the probe the body is frozen, so its features never change: we compute them once
# and train the head alone on them, which takes seconds.

# %%
def encode(examples):
    return (*tasks.encode_texts(examples.texts, tok, block_size), torch.as_tensor(examples.labels))


train_set, val_set, test_set = encode(task.train), encode(task.val), encode(task.test)


@torch.no_grad()
def all_features(clf, idx, mask):
    clf.eval()
    return torch.cat([clf.features(idx[i:i + 128], mask[i:i + 128]) for i in range(0, len(idx), 128)])


results = {}
for method in ("scratch", "probe", "full", "last", "lora"):
    recipe = dict(ft.RECIPES[method])
    pool = recipe.pop("pool")
    if FAST:
        recipe.update(steps=2, eval_interval=2)
    body = load_pretrained("shakespeare-gpt")[0]
    if method == "scratch":
        torch.manual_seed(0)
        clf = ft.GPTClassifier(type(body)(body.config), task.n_classes, pool)  # random weights
    else:
        clf = ft.configure(ft.GPTClassifier(body, task.n_classes, pool), method)
    n_trainable = ft.trainable_parameters(clf)
    t0 = time.perf_counter()
    if method == "probe":
        feats = [all_features(clf, d[0], d[1]) for d in (train_set, val_set, test_set)]
        head = ft.FeatureHead(clf.head)
        hist = ft.train_classifier(head, (feats[0], None, train_set[2]), (feats[1], None, val_set[2]),
                                   **recipe)
        test_acc = ft.accuracy(head, feats[2], None, test_set[2])
    else:
        hist = ft.train_classifier(clf, train_set, val_set, **recipe)
        test_acc = ft.accuracy(clf, *test_set)
    results[method] = dict(test=test_acc, params=n_trainable, seconds=time.perf_counter() - t0,
                           hist=hist, model=clf)
    print(f"{method:8s} test accuracy {test_acc:.3f} | best val {hist['best_val_acc']:.3f} at step "
          f"{hist['best_step']} | {n_trainable:>9,} trainable | {results[method]['seconds']:.0f} s")

# %%
fig, ax = plt.subplots()
for method, r in results.items():
    ax.plot(r["hist"]["steps"], r["hist"]["val_acc"], marker=".", label=method)
ax.axhline(majority_acc, color="gray", ls=":", label="majority")
ax.axhline(bag_acc, color="k", ls="--", label="bag of chars (test)")
ax.set_xlabel("step (the probe: steps on cached features)")
ax.set_ylabel("validation accuracy")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# **Which pooling?** The runs above average the features over the speech (`pool="mean"`).
# With the body frozen, trying the other choice costs one more pass over the data: the
# probe on the features of the last real character.

# %%
last_clf = ft.GPTClassifier(load_pretrained("shakespeare-gpt")[0], task.n_classes, pool="last")
feats_last = [all_features(last_clf, d[0], d[1]) for d in (train_set, val_set, test_set)]
head_last = ft.FeatureHead(last_clf.head)
recipe = {k: v for k, v in ft.RECIPES["probe"].items() if k != "pool"}
if FAST:
    recipe.update(steps=2, eval_interval=2)
ft.train_classifier(head_last, (feats_last[0], None, train_set[2]), (feats_last[1], None, val_set[2]),
                    **recipe)
probe_last_acc = ft.accuracy(head_last, feats_last[2], None, test_set[2])
print(f"linear probe, test accuracy: mean pooling {results['probe']['test']:.3f}, "
      f"last character {probe_last_acc:.3f}")

# %% [markdown]
# ## 7. Results
#
# Test accuracy, trainable parameters and training time of every model. With about 230
# test speeches, one accuracy has a standard error of about 3 points (the error bars):
# differences smaller than that are noise.

# %%
names = ["majority", "bag of chars", "scratch", "probe", "full", "last", "lora"]
accs = [majority_acc, bag_acc] + [results[m]["test"] for m in names[2:]]
params = [0, fits[best_l2].W.numel() + K] + [results[m]["params"] for m in names[2:]]
times = [0.0, bag_time] + [results[m]["seconds"] for m in names[2:]]
se = [np.sqrt(a * (1 - a) / len(task.test)) for a in accs]
colors = ["gray", "gray", "tab:red"] + ["tab:blue"] * 4
fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
axes[0].bar(names, accs, yerr=se, color=colors)
axes[0].set_title("test accuracy")
axes[1].bar(names, np.maximum(params, 1), color=colors)
axes[1].set_yscale("log")
axes[1].set_title("trainable parameters (log)")
axes[2].bar(names, times, color=colors)
axes[2].set_title("training time (s)")
for a in axes:
    a.tick_params(axis="x", rotation=45)
plt.tight_layout()
plt.show()
for n, a, p, t in zip(names, accs, params, times):
    print(f"{n:13s} {a:6.3f}  {p:>9,} params  {t:6.1f} s")

# %%
if not FAST:
    best_pretrained = max(results[m]["test"] for m in ("full", "last", "lora"))
    assert best_pretrained > results["scratch"]["test"]  # what pre-training buys
    assert results["lora"]["params"] < 0.05 * results["full"]["params"]

# %% [markdown]
# What to read in the plots. The benchmark (`python -m coursekit.bench finetune`, one torch
# thread on a busy 2-core machine, the shipped GPT at val 1.48) measured: majority 0.135,
# bag of characters 0.297, GPT from scratch 0.148, linear probe 0.201 (0.153 with
# last-character pooling), full fine-tuning 0.188, last block 0.288, LoRA 0.236; each
# fine-tuning run took 1–2.5 minutes. With 229 test speeches one accuracy has a standard
# error of about 0.03, so differences under 0.06 are noise.
#
# - **Pre-training pays, against the same network from scratch.** From random weights the
#   GPT stays near the majority class: a thousand short speeches are far too few to learn
#   to read from. Started from the pre-trained weights, the same network reaches 0.24 with
#   LoRA and 0.29 training only the last block.
# - **The probe is cheap and weaker.** Features trained to predict the next character are
#   not arranged for telling speakers apart; a linear head on them gets part of the way,
#   in seconds. Averaging over the speech beats the last character's features.
# - **Training everything is not best here.** Full fine-tuning picked its best validation
#   accuracy after only 80 steps: 819k parameters on 1,076 speeches overfit fast. Training
#   only the last block or LoRA (2% of the parameters) changes less and generalises better.
#   On a model this small LoRA saves no time (the forward and backward passes through the
#   frozen body remain); on a billion-parameter model it is what makes fine-tuning fit in
#   memory, since gradients and optimizer state exist only for A, B and the head.
# - **And the bag of characters is as good as the best GPT.** The promised order
#   "pre-trained > scratch > bag of n-grams" needs a pre-trained model that knows much more
#   than ours: 0.8M parameters trained for 84 CPU-minutes (1.48 nats/char) spell words but
#   know little about who says what. Character-pair frequencies, fitted exactly by L-BFGS,
#   see each play's names and habits directly. Larger models pre-trained on far more text
#   turn the order around; what this experiment shows cleanly is the first point.
#
# Which speakers are confused with which? The confusion matrix of the LoRA model:

# %%
best = results["lora"]["model"]
pred = ft.predict(best, test_set[0], test_set[1]).argmax(-1).numpy()
confusion = np.zeros((K, K), dtype=int)
np.add.at(confusion, (test_set[2].numpy(), pred), 1)
fig, ax = plt.subplots(figsize=(6, 5))
ax.imshow(confusion, cmap="Blues")
ax.set_xticks(range(K), task.speakers, rotation=90)
ax.set_yticks(range(K), task.speakers)
ax.set_xlabel("predicted")
ax.set_ylabel("true")
ax.grid(False)
for i in range(K):
    for j in range(K):
        if confusion[i, j]:
            ax.text(j, i, confusion[i, j], ha="center", va="center", fontsize=7)
plt.show()

# %% [markdown]
# Read it row by row: where do each speaker's speeches go? Speakers of the same play
# (ROMEO and JULIET; DUKE VINCENTIO and ISABELLA; MENENIUS and CORIOLANUS) and the one man
# under two tags (GLOUCESTER and KING RICHARD III) are the pairs to look at first.
#
# ## 8. Continued pre-training on one speaker: style moves, and the model forgets
#
# Fine-tuning need not add a head. **Continued pre-training** keeps the language-model
# objective and changes the data: here, only GLOUCESTER's speeches (about 40,000
# characters, a tenth of them held out). This is chapter 07's `lmlib.train` unchanged; we
# stop it every few steps to measure two losses: on GLOUCESTER's held-out speeches, and on
# the corpus validation split, all of Shakespeare the model never trained on.

# %%
from lmlib.scoring import score
from lmlib.train import TrainConfig, Trainer

spk_train, spk_val = tasks.speaker_ids("GLOUCESTER", tok)
lm = load_pretrained("shakespeare-gpt")[0]
general_val = val_ids[:1500] if FAST else val_ids[:30000]
B = lm.config.block_size
steps = 4 if FAST else 150
config = TrainConfig(steps=steps, **{**ft.RECIPES["continued"],
                                     **(dict(eval_interval=2, eval_batches=1) if FAST else {})})
prompt = torch.as_tensor(tok.encode("\n"))[None]
sample_before = tok.decode(lm.generate(prompt, 300 if not FAST else 60, temperature=0.8, top_k=20,
                                       generator=torch.Generator().manual_seed(1))[0])
trainer = Trainer(lm, spk_train, spk_val, config)
curve = {"step": [0], "speaker": [score(lm, spk_val, protocol="windows")], "general": [score(lm, general_val, protocol="windows")]}
t0 = time.perf_counter()
for stop in np.linspace(0, steps, 7 if not FAST else 3)[1:].astype(int):
    trainer.run(stop_at=int(stop), progress=False, plot=False)
    curve["step"].append(int(stop))
    curve["speaker"].append(score(lm, spk_val, protocol="windows"))
    curve["general"].append(score(lm, general_val, protocol="windows"))
print(f"{steps} steps in {time.perf_counter() - t0:.0f} s")
sample_after = tok.decode(lm.generate(prompt, 300 if not FAST else 60, temperature=0.8, top_k=20,
                                      generator=torch.Generator().manual_seed(1))[0])

# %%
fig, ax = plt.subplots()
ax.plot(curve["step"], curve["speaker"], marker="o", label="GLOUCESTER's held-out speeches")
ax.plot(curve["step"], curve["general"], marker="o", label="general val (rest of Shakespeare)")
ax.set_xlabel("steps of continued pre-training")
ax.set_ylabel("loss (nats/char)")
ax.legend()
plt.show()
print(f"GLOUCESTER: {curve['speaker'][0]:.3f} -> {curve['speaker'][-1]:.3f}; "
      f"general: {curve['general'][0]:.3f} -> {curve['general'][-1]:.3f}")
if not FAST:
    assert min(curve["speaker"]) < curve["speaker"][0]  # it adapts ...
    assert curve["general"][-1] > curve["general"][0]   # ... and forgets

# %%
print("BEFORE\n" + sample_before + "\n\nAFTER\n" + sample_after)

# %% [markdown]
# What moved: GLOUCESTER's held-out loss falls a little, the general validation loss rises
# several times as much (the benchmark: 1.200 → 1.190 on GLOUCESTER, 1.508 → 1.576 on the
# validation text after 150 steps at learning rate 1e-4). At 3e-4, GLOUCESTER's held-out
# loss itself rises after a few dozen steps: 36,000 characters are quickly over-fitted. The model **forgets** some of what it knew about
# the rest of Shakespeare to fit one voice better: *catastrophic forgetting*, in a mild
# form. In the samples, GLOUCESTER's tag and names from his plays (the *Henry VI* lords)
# start to appear. Remedies used in practice: fewer steps and a smaller learning rate,
# mixing some general data back in, or LoRA, which changes fewer directions of the weights
# (and can be switched off again).
#
# > **Myth:** fine-tuning only adds a skill; what the model knew stays as it was.
# >
# > **Fact:** the same weights serve both; the cell above measured the general loss rising
# > while the speaker loss fell.
#
# ## 9. Where instruction tuning and RLHF fit
#
# The assistants you can chat with are built by the same two stages. **Pre-training** on a
# huge amount of raw text gives a model that continues text, like ours continues a play.
# **Instruction tuning** (supervised fine-tuning) is then continued training, with the same
# next-token loss as section 8, on tens of thousands of written examples of a prompt
# followed by a good answer; usually the loss counts only the answer's tokens. It teaches a
# format and a behaviour (answer the question, follow the instruction) more than new
# knowledge. **RLHF** (reinforcement learning from human feedback) goes one step further:
# people rank several answers to the same prompt, a *reward model* (a network with a head
# much like our classifier's, giving one score per text) learns to predict their
# preferences, and the language model is trained to produce answers the reward model
# scores highly, with a penalty for drifting far from the instruction-tuned model (the
# forgetting of section 8 is exactly what that penalty guards against). Simpler variants
# such as DPO train directly on the preference pairs without a separate reward model. We do
# not attempt either here: a 0.8M-parameter character model trained on one play script has
# nothing to follow instructions with, and the data (prompts, answers, human rankings)
# is the expensive part. The pieces, though, are the ones of this chapter: a pre-trained
# body, a head, a loss, and a choice of what to train.
#
# ## Summary
#
# - A task made from the corpus itself: ten speakers, 1,536 speeches, a fixed stratified
#   split; majority 14%, a bag of characters 30%.
# - A classification head on a GPT: pool the features of the real (non-padded) positions,
#   one Linear; right padding plus masked pooling gives exactly the unpadded result.
# - Choosing what trains is setting `requires_grad`: probe, full, last blocks, LoRA. LoRA's
#   update `(α/r) B A` starts at zero and merges back into W with no change in outputs.
# - Pre-training buys accuracy that a thousand labels cannot (0.15 → 0.24–0.29 for the same
#   network), though our small pre-trained GPT does not beat character-pair statistics;
#   continued pre-training moves the style and costs some general ability (forgetting),
#   measurably.
#
# **Exercises** (`exercises/10_finetuning.ipynb`): a classification head with mean pooling;
# freezing parameters; the LoRA forward; counting trainable parameters; merging LoRA.
