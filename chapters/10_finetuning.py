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
# block, and LoRA, each with a learning rate picked on the validation split. Then continued
# pre-training on one speaker's lines: the style moves, and the model forgets some of the
# rest. Finally, hands-on instruction tuning on a toy prompt → answer set, with the
# prompt's loss masked and without.
#
# **Why pre-train at all?** Labels are expensive, raw text is not. The shipped GPT read a
# million characters with a free label at every position (the next character). Our task
# has about a thousand labelled speeches. The question of this chapter: how much does what
# the model learned from the free labels help with the expensive ones?
#
# **Prerequisites:** chapter 07 (the GPT and `lmlib.train`).
#
# **Time on a laptop CPU:** about ten minutes in full mode (599 CPU seconds measured on
# 2026-12-01 on a busy 2-core server; the fine-tuning runs take one to two minutes each);
# seconds in fast mode.

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
from lmlib.scoring import score

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
totals = dict(zip(task.speakers, bottom.astype(int)))
print(", ".join(f"{name} {n}" for name, n in totals.items()))
print(f"{sum(totals.values()):,} speeches; the most frequent speaker has "
      f"{max(totals.values()) / sum(totals.values()):.0%} of them")
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
# The classes are not balanced, but not badly (the counts are printed above): always
# answering the most frequent speaker, GLOUCESTER, is right about as often as his share of
# the speeches, the first number any model must beat (chance with ten equal classes would
# be one in ten). Two traps hide in the data:
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
t0 = time.process_time()  # CPU seconds: wall time on a busy machine says little
orders = (1,) if FAST else (1, 2)
X = {s: tasks.bag_of_ngrams([t[:128] for t in getattr(task, s).texts], tok, orders)
     for s in ("train", "val", "test")}
fits = {l2: tasks.LogisticRegression(l2).fit(X["train"], task.train.labels, task.n_classes)
        for l2 in (1e-2, 1e-1, 1.0)}
val_scores = {l2: m.score(X["val"], task.val.labels) for l2, m in fits.items()}
best_l2 = max(val_scores, key=val_scores.get)
bag_acc = fits[best_l2].score(X["test"], task.test.labels)
bag_time = time.process_time() - t0
print(f"majority: test accuracy {majority_acc:.3f}")
print(f"bag of characters: val {val_scores}, picked l2={best_l2}; test accuracy {bag_acc:.3f} "
      f"({bag_time:.1f} CPU s)")
if not FAST:
    assert bag_acc > majority_acc + 0.05

# %% [markdown]
# ## 3. The pre-trained GPT, and a head for classification
#
# The shipped model is the GPT of chapter 07 (4 layers, 4 heads, 128 channels) trained to
# predict the next character of the first 90% of the corpus.

# %%
gpt, gpt_tok = load_pretrained("shakespeare-gpt")
assert gpt_tok.itos == tok.itos  # the same characters, the same ids
block_size = 64 if FAST else gpt.config.block_size
print(f"{gpt.num_params() / 1e6:.1f}M parameters, context {gpt.config.block_size}")
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
if not FAST:
    assert seen < unseen - 0.05 and seen > 1.0  # knows them better, but far from memorised

# %% [markdown]
# The model knows the speeches it read better than new ones (the two losses printed above;
# the unseen speeches come from other plays, so part of the gap is the plays themselves),
# but it learned Shakespeare's spelling and habits, not the speeches: a model that had
# memorised them would be near 0 nats/char on the first, not above 1 (asserted).
# Keep the caveat in mind anyway; a rigorous study would pre-train on text disjoint from
# the test speeches (written question 3 of the exercises).
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
# **Why not a `[CLS]` token at the start, as in BERT?** BERT (Devlin et al., 2018) puts a
# special `[CLS]` token *first* and classifies from its features; that works because BERT's
# attention is bidirectional, so the first position sees the whole text. In a GPT the
# attention is causal: position 0 sees only itself, so its features are the same whatever
# follows, and only the **last** position has seen everything. GPT-1 (Radford et al., 2018)
# therefore appended an extraction token at the *end* and put its classifier there, the
# `pool="last"` of this chapter. Measured on the batch above: speeches that start with the
# same character get the same features at position 0, however different the rest is.

# %%
with torch.no_grad():
    h = ft.hidden_states(gpt, idx)
first_char = idx[:, 0]
a, b = next((i, j) for i in range(len(idx)) for j in range(i + 1, len(idx))
            if first_char[i] == first_char[j])
print(f"speeches {a} and {b} both start with {tok.decode([int(first_char[a])])!r}: "
      f"max |h_0 difference| = {(h[a, 0] - h[b, 0]).abs().max():.1e}, at the last real character "
      f"{(ft.pool(h, mask, 'last')[a] - ft.pool(h, mask, 'last')[b]).abs().max():.2f}")
torch.testing.assert_close(h[a, 0], h[b, 0])                      # position 0 saw nothing else
assert (ft.pool(h, mask, "last")[a] - ft.pool(h, mask, "last")[b]).abs().max() > 0.1

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
# same training speeches: one from random weights, four from the pre-trained weights.
# `lmlib.finetune.train_classifier` runs chapter 07's loop itself (`lmlib.train.Trainer`):
# AdamW on the trainable parameters, warm-up and cosine decay, clipping; only the batches
# differ, epochs of speeches instead of windows of text, speeches of similar length
# together so that little time goes into padding. Every few steps it measures validation
# accuracy and at the end keeps the weights of the best one (early stopping). The recipes
# (pooling, steps, learning rates) are in `lmlib.presets.RECIPES` (also `ft.RECIPES`):
# every run through the body gets 400 steps; the probe, which trains the head alone on
# cached features, 1000. Each method needs its own learning rate, and it must be **picked
# on the validation split**, never on the test split. A common rule of thumb says that
# pre-trained weights should move only a little, so full fine-tuning should want a smaller
# rate than training from scratch; measure it rather than trust it. The grids that were
# run, with the best validation accuracy of each point (the protocol of the cells below,
# recorded in `lmlib.presets.LR_SWEEP`; `python -m coursekit.bench.lr_sweep` reruns a grid,
# a few CPU-minutes per point), each bracketing its best rate; a method without a grid
# keeps the rate the course started from:

# %%
fig, ax = plt.subplots(figsize=(6, 3.4))
for method, grid in ft.LR_SWEEP.items():
    lrs = sorted(grid)
    ax.plot(lrs, [grid[lr] for lr in lrs], "o-", label=method)
    print(f"{method:8s} " + "  ".join(f"lr {lr:g}: val {grid[lr]:.3f}" for lr in lrs)
          + f"  -> recipe lr {ft.RECIPES[method]['lr']:g}")
    assert ft.RECIPES[method]["lr"] == max(grid, key=grid.get)  # the recipe is the best on val
    assert min(grid) < ft.RECIPES[method]["lr"] < max(grid)       # inside the grid, not at an end
ax.set_xscale("log")
ax.set_xlabel("learning rate")
ax.set_ylabel("best validation accuracy")
ax.legend(fontsize=8)
plt.show()
# the rule of thumb does not hold here: full fine-tuning's best rate is not below scratch's
assert ft.RECIPES["full"]["lr"] >= ft.RECIPES["scratch"]["lr"]

# %% [markdown]
# The rule of thumb fails here: the best rate for full fine-tuning is no smaller than the
# rate for training from scratch (the cell asserts it). With 400 steps, a short warm-up
# and a cosine decay, a small rate barely moves the body at all, and the speaker task
# wants the body to move. The lone head on frozen features, with nothing else to change,
# takes a far larger rate still.
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
    t0 = time.process_time()
    if method == "probe":
        feats = [all_features(clf, d[0], d[1]) for d in (train_set, val_set, test_set)]
        head = ft.FeatureHead(clf.head)
        hist = ft.train_classifier(head, (feats[0], None, train_set[2]), (feats[1], None, val_set[2]),
                                   **recipe)
        right = ft.predict(head, feats[2]).argmax(-1) == test_set[2]
    else:
        hist = ft.train_classifier(clf, train_set, val_set, **recipe)
        right = ft.predict(clf, test_set[0], test_set[1]).argmax(-1) == test_set[2]
    test_acc = right.float().mean().item()
    results[method] = dict(test=test_acc, params=n_trainable, seconds=time.process_time() - t0,
                           hist=hist, model=clf, right=right.numpy())
    print(f"{method:8s} test accuracy {test_acc:.3f} | best val {hist['best_val_acc']:.3f} at step "
          f"{hist['best_step']} | {n_trainable:>9,} trainable | {results[method]['seconds']:.0f} CPU s")

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
right_last = (ft.predict(head_last, feats_last[2]).argmax(-1) == test_set[2]).numpy()
probe_last_acc = right_last.mean()
print(f"linear probe, test accuracy: mean pooling {results['probe']['test']:.3f}, "
      f"last character {probe_last_acc:.3f}")

# %% [markdown]
# ## 7. Results
#
# Test accuracy, trainable parameters and training time (CPU seconds) of every model. With a couple of
# hundred test speeches, one accuracy has a standard error of about 3 points (the error
# bars, printed below).

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
axes[2].set_title("training time (CPU s)")
for a in axes:
    a.tick_params(axis="x", rotation=45)
plt.tight_layout()
plt.show()
for n, a, p, t in zip(names, accs, params, times):
    print(f"{n:13s} {a:6.3f}  {p:>9,} params  {t:6.1f} CPU s")
print(f"{len(task.test)} test speeches: standard error of one accuracy up to {max(se):.3f}; "
      f"LoRA trains {results['lora']['params'] / results['full']['params']:.1%} of full fine-tuning's "
      f"parameters")

# %% [markdown]
# Two accuracies measured on the **same** test speeches should be compared speech by speech,
# not by their error bars: what matters is how many speeches one model gets right and the
# other wrong. **McNemar's test** counts those two numbers, b and c; if the models were
# equally good, each such speech would be a fair coin flip, and the p-value is the chance of
# a split at least as uneven as b : c.

# %%
from math import comb


def mcnemar_p(right_a, right_b):
    """Exact two-sided McNemar test: p-value that two classifiers are equally accurate,
    from their per-example correctness (boolean arrays over the same test examples)."""
    b = int(np.sum(right_a & ~right_b))
    c = int(np.sum(~right_a & right_b))
    tail = sum(comb(b + c, k) for k in range(min(b, c) + 1)) / 2 ** (b + c)
    return min(1.0, 2 * tail), b, c


bag_right = fits[best_l2].predict(X["test"]) == task.test.labels
best = max(("full", "last", "lora"), key=lambda m: results[m]["test"])
pairs_to_test = {f"{best} vs scratch": (results[best]["right"], results["scratch"]["right"]),
                 f"{best} vs bag of chars": (results[best]["right"], bag_right),
                 "probe: mean vs last pooling": (results["probe"]["right"], right_last),
                 "full vs last": (results["full"]["right"], results["last"]["right"]),
                 "last vs lora": (results["last"]["right"], results["lora"]["right"])}
paired = {}
for name, (ra, rb) in pairs_to_test.items():
    paired[name], b, c = mcnemar_p(ra, rb)
    print(f"{name:28s} right only by the first {b:3d}, only by the second {c:3d}: p = {paired[name]:.3f}")

# %%
if not FAST:
    best_pretrained = results[best]["test"]
    assert best_pretrained > results["scratch"]["test"] + 0.05  # what pre-training buys ...
    assert paired[f"{best} vs scratch"] < 0.05                  # ... and it is not noise
    assert results["probe"]["test"] > majority_acc + 0.03
    assert results["probe"]["seconds"] < 0.5 * min(results[m]["seconds"] for m in ("full", "last", "lora"))
    assert results["lora"]["params"] < 0.05 * results["full"]["params"]
    assert results["lora"]["seconds"] > 0.5 * results["full"]["seconds"]  # only part of the time saved
    assert abs(results["scratch"]["test"] - majority_acc) < 0.05           # scratch: near majority
    assert bag_acc > best_pretrained - 0.06                     # the GPT does not pull clearly ahead

# %% [markdown]
# What to read in the table and the tests:
#
# - **Pre-training pays, against the same network from scratch.** From random weights the
#   GPT stays near the majority class (asserted): a thousand short speeches are far too few
#   to learn to read from. Started from the pre-trained weights, the same network does clearly better
#   (the first paired test; asserted with a margin).
# - **The probe is cheap.** Features trained to predict the next character are not
#   arranged for telling speakers apart; a linear head on them gets part of the way above
#   the majority class in seconds (asserted). Mean against last-character pooling: read the
#   paired test; where p is large the gap between them is noise.
# - **Do not rank the methods on gaps of a few points.** Whether full fine-tuning, the last
#   block or LoRA is best *here* is for the paired tests to say, and with a couple of
#   hundred test speeches they rarely can; a method's learning rate can matter as much as
#   the method (the grids above). On a model this small LoRA saves only part of the time
#   (the forward and backward passes through the frozen body remain, only the frozen
#   weights' own gradients are skipped: it takes more than half of full fine-tuning's CPU
#   time, asserted); on a billion-parameter model it is what makes fine-tuning fit in
#   memory, since gradients and optimizer state exist only for A, B and the head.
# - **And the bag of characters keeps up with the best GPT** (asserted: the GPT is not
#   ahead by more than two standard errors). The promised order "pre-trained > scratch >
#   bag of n-grams" needs a pre-trained model that knows much more than ours: a GPT this
#   size, trained on a million characters, spells words but knows little about who says
#   what, while character-pair frequencies, fitted exactly by L-BFGS, see each play's names
#   and habits directly. Larger models pre-trained on far more text turn the order around;
#   what this experiment shows cleanly is the first point.
#
# **GPT-1's auxiliary loss.** GPT-1 fine-tuned with the classifier's loss *plus* half of the
# language-model loss on the same text, `L = L_class + 0.5 · L_LM`
# (Radford et al., 2018, section 3.2), reporting that it helps generalisation and speeds up
# convergence. One reason: the classifier's loss alone is free to wreck what the body knew
# about language. Measured: the language-model loss of the fully fine-tuned body on the
# validation text, against the shipped model's:

# %%
n_lm = 5000 if FAST else 30000
lm_before = score(load_pretrained("shakespeare-gpt")[0], val_ids[:n_lm], protocol="windows")
lm_after = score(results["full"]["model"].gpt, val_ids[:n_lm], protocol="windows")
print(f"LM loss on val text: shipped GPT {lm_before:.3f}, after full fine-tuning {lm_after:.3f} nats/char")
# the auxiliary objective on one batch: the head's loss plus half the LM loss of the same speeches
clf_full = results["full"]["model"]
x_b, m_b, y_b = (t[:16] for t in train_set)
with torch.no_grad():
    lm_targets = torch.cat([x_b[:, 1:], torch.full((len(x_b), 1), -1)], 1).masked_fill(
        ~torch.cat([m_b[:, 1:], torch.zeros(len(x_b), 1, dtype=torch.bool)], 1), -1)
    loss_class = clf_full(x_b, y_b, mask=m_b)[1]
    loss_lm = clf_full.gpt(x_b, lm_targets)[1]
print(f"one batch: L_class {loss_class:.3f} + 0.5 x L_LM {loss_lm:.3f} = {loss_class + 0.5 * loss_lm:.3f}")
if not FAST:
    assert lm_after > lm_before + 0.01  # the classifier's loss alone moved the body away from language

# %% [markdown]
# Adding `0.5 * loss_lm` to the loss that `train_classifier` minimises is all it takes; we
# do not rerun the five trainings with it here (another few minutes of CPU).
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
# objective and changes the data: here, only GLOUCESTER's speeches (a tenth of them held
# out of this training). This is chapter 07's `lmlib.train` unchanged; we stop it every few
# steps to measure two losses: on GLOUCESTER's held-out speeches, and on the corpus
# validation split, the part of Shakespeare pre-training never read. Be clear about what
# "held out" means here: GLOUCESTER's speeches all lie in the first 90% of the corpus, so
# pre-training read the held-out ones too; they are held out of the *continued* training
# only. (A clean test would hold out a whole play from both.)

# %%
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
curve = {"step": [0], "speaker": [score(lm, spk_val, protocol="windows")],
         "general": [score(lm, general_val, protocol="windows")]}
t0 = time.process_time()
for stop in np.linspace(0, steps, 7 if not FAST else 3)[1:].astype(int):
    trainer.run(stop_at=int(stop), progress=False, plot=False)
    curve["step"].append(int(stop))
    curve["speaker"].append(score(lm, spk_val, protocol="windows"))
    curve["general"].append(score(lm, general_val, protocol="windows"))
print(f"{len(spk_train):,} characters of GLOUCESTER to train on, {len(spk_val):,} held out; "
      f"{steps} steps in {time.process_time() - t0:.0f} CPU s")
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
fell = curve["speaker"][0] - curve["speaker"][-1]
rose = curve["general"][-1] - curve["general"][0]
print(f"GLOUCESTER's loss fell by {fell:.3f}, the general loss rose by {rose:.3f} nats/char")
if not FAST:
    assert fell > 0.003          # it adapts ...
    assert rose > fell + 0.005   # ... and forgets more than it gains

# %%
print("BEFORE\n" + sample_before + "\n\nAFTER\n" + sample_after)

# %% [markdown]
# What moved (the numbers printed above): GLOUCESTER's held-out loss falls a little, the
# general validation loss rises by more (asserted). The model **forgets** some of what it
# knew about the rest of Shakespeare to fit one voice better: *catastrophic forgetting*,
# in a mild form. Read the samples above for what the extra steps did to the text.
# Remedies used in practice: fewer
# steps and a smaller learning rate, mixing some general data back in, or LoRA, which
# changes fewer directions of the weights (and can be switched off again).
#
# > **Myth:** fine-tuning only adds a skill; what the model knew stays as it was.
# >
# > **Fact:** the same weights serve both; the cell above measured the general loss rising
# > while the speaker loss fell.
#
# ## 9. Instruction tuning, hands-on
#
# The assistants you can chat with are built by the same two stages. **Pre-training** on a
# huge amount of raw text gives a model that continues text, like ours continues a play.
# **Instruction tuning** (supervised fine-tuning, SFT) is then continued training, with the
# same next-token loss as section 8, on written examples of a prompt followed by a good
# answer; usually the loss counts only the answer's tokens. It teaches a format and a
# behaviour (answer the question, follow the instruction) more than new knowledge.
#
# Our model knows no instructions, so we make a toy set in its own alphabet: three orders
# (greet, dismiss, summon) addressed to a speaker of the plays, each with a fixed reply
# that must repeat the name. The names are split: the model is tested on prompts with
# names it never saw in this training.

# %%
import re

import lmlib.sampling as S

names = sorted({s.speaker for s in lib if re.fullmatch(r"[A-Z]{3,10}", s.speaker)})
order = np.random.default_rng(0).permutation(len(names))
test_names = [names[i] for i in order[:len(names) // 5]]
train_names = [names[i] for i in order[len(names) // 5:]]
REPLIES = {"Greet": "Good morrow, {}!", "Dismiss": "Farewell, {}.", "Summon": "Come hither, {}."}


def instruction_pairs(names):
    """(prompt, answer) texts: 'Greet ROMEO.\\n' -> 'Good morrow, ROMEO!\\n', and so on."""
    return [(f"{verb} {name}.\n", reply.format(name) + "\n")
            for name in names for verb, reply in REPLIES.items()]


sft_train, sft_test = instruction_pairs(train_names), instruction_pairs(test_names)
if FAST:
    sft_train, sft_test = sft_train[:48], sft_test[:12]
encode_pairs = lambda pairs: [(tok.encode(p), tok.encode(a)) for p, a in pairs]
print(f"{len(sft_train)} training pairs ({len(train_names)} names), {len(sft_test)} test pairs "
      f"({len(test_names)} other names); e.g. {sft_train[0]}")

# %% [markdown]
# `lmlib.finetune.sft_batch(pairs, mask_prompt=True)` builds inputs and targets; with
# `mask_prompt` the targets that are prompt tokens become -1, which the GPT's loss ignores
# (you write it, and the training, in the exercises). One pair, with `·` for an ignored
# target:

# %%
x_demo, y_demo = ft.sft_batch(encode_pairs(sft_train[:1]))
print("input :", repr(tok.decode(x_demo[0].tolist())))
print("target:", repr("".join("·" if t < 0 else tok.itos[t] for t in y_demo[0].tolist())))
assert (y_demo[0] == -1).sum() == len(sft_train[0][0]) - 1  # every prompt target but none after

# %% [markdown]
# We tune two copies of the shipped GPT with the same steps, learning rate and batches: one
# with the prompt's loss masked, one on every token. Then we measure, on the test names:
# how many answers have the right form (the reply of the right order, any name), how many
# are exactly right (the right name too), the model's loss on the answers and on the
# prompts, and its loss on the general validation text (forgetting, as in section 8).

# %%
NL = tok.stoi["\n"]


def answer(model, prompt):
    ids = tok.encode(prompt)
    return tok.decode(S.generate(model, ids, 30, temperature=0, stop_ids=[NL])[len(ids):])


def sft_scores(model, pairs):
    replies = [answer(model, p) for p, _ in pairs]
    form = [re.fullmatch(re.escape(REPLIES[p.split()[0]]).replace(r"\{\}", "[A-Za-z ]+") + "\n", r)
            is not None for (p, _), r in zip(pairs, replies)]
    x, y_answer = ft.sft_batch(encode_pairs(pairs), mask_prompt=True)
    _, y_all = ft.sft_batch(encode_pairs(pairs), mask_prompt=False)
    y_prompt = y_all.masked_fill(y_answer != -1, -1)
    with torch.no_grad():
        model.eval()
        losses = model(x, y_answer)[1].item(), model(x, y_prompt)[1].item()
    return dict(form=np.mean(form), exact=np.mean([r == a for r, (_, a) in zip(replies, pairs)]),
                answer_loss=losses[0], prompt_loss=losses[1],
                general=score(model, general_val, protocol="windows"), replies=replies)


SFT = dict(steps=4 if FAST else ft.RECIPES["sft"]["steps"], lr=ft.RECIPES["sft"]["lr"],
           batch_size=ft.RECIPES["sft"]["batch_size"], warmup=ft.RECIPES["sft"]["warmup"])
sft = {"before": sft_scores(load_pretrained("shakespeare-gpt")[0], sft_test)}
for mask_prompt in (True, False):
    tuned = load_pretrained("shakespeare-gpt")[0]
    t0 = time.process_time()
    ft.train_sft(tuned, encode_pairs(sft_train), mask_prompt=mask_prompt, **SFT)
    name = "masked" if mask_prompt else "unmasked"
    sft[name] = sft_scores(tuned, sft_test)
    sft[name]["cpu"] = time.process_time() - t0
for name, r in sft.items():
    print(f"{name:9s} right form {r['form']:.2f} | exactly right {r['exact']:.2f} | loss on answers "
          f"{r['answer_loss']:.3f}, on prompts {r['prompt_loss']:.3f} | general val {r['general']:.3f}")
for (p, _), before, m, u in list(zip(sft_test, sft["before"]["replies"], sft["masked"]["replies"],
                                     sft["unmasked"]["replies"]))[:6]:
    print(f"{p.strip():22s} before {before!r:24s} masked {m!r:28s} unmasked {u!r}")

# %%
if not FAST:
    for name in ("masked", "unmasked"):
        assert sft[name]["form"] > sft["before"]["form"] + 0.5           # the format is learned
        assert sft[name]["answer_loss"] < sft["before"]["answer_loss"] - 0.5
        assert sft[name]["general"] > sft["before"]["general"] + 0.05    # and it costs
    assert sft["unmasked"]["prompt_loss"] < sft["masked"]["prompt_loss"] - 0.3
    assert abs(sft["unmasked"]["answer_loss"] - sft["masked"]["answer_loss"]) < 0.15

# %% [markdown]
# Read the rows above. Before tuning, the model does not know what to do with an order:
# it ends the line (the replies in the first column). After a few dozen seconds of tuning,
# both copies answer in the right form for names they never saw (asserted). Copying the
# name is the harder half of the task, and the "exactly right" column shows how far this
# short tuning got with it: read the replies to see which name the models put in instead.
# The unmasked copy also learned to predict the **prompts** (its loss on them is much lower,
# asserted): gradient spent on text the model will never have to write, while its loss on
# the answers stays close to the masked copy's (asserted). Both forget much of Shakespeare
# (the general loss rises, asserted), as in section 8 but faster: every step of this
# tuning is about one tiny format. Real instruction sets are far larger and more varied,
# and mixing in general text is one of the usual remedies. (Recipe:
# `ft.RECIPES["sft"]`, run by `ft.train_sft`, which builds the batches with `sft_batch`
# and trains them with `train_classifier`, the same loop again.)
#
# ## 10. Where RLHF fits
#
# **RLHF** (reinforcement learning from human feedback) goes one step further than
# instruction tuning: people rank several answers to the same prompt, a *reward model* (a
# network with a head much like our classifier's, giving one score per text) learns to
# predict their preferences, and the language model is trained to produce answers the
# reward model scores highly, with a penalty for drifting far from the instruction-tuned
# model (the forgetting of sections 8 and 9 is exactly what that penalty guards against).
# Simpler variants such as DPO train directly on the preference pairs without a separate
# reward model. We do not attempt either here: the data (human rankings of answers) is the
# expensive part, and a toy version would teach little. The pieces, though, are the ones of
# this chapter: a pre-trained body, a head, a loss, and a choice of what to train.
#
# ## Summary
#
# - A task made from the corpus itself: ten speakers, a fixed stratified split; the
#   majority class and a bag of characters as baselines.
# - A classification head on a GPT: pool the features of the real (non-padded) positions,
#   one Linear; right padding plus masked pooling gives exactly the unpadded result. A
#   causal model reads the last position (GPT-1), not a first `[CLS]` token (BERT).
# - Choosing what trains is setting `requires_grad`: probe, full, last blocks, LoRA. LoRA's
#   update `(α/r) B A` starts at zero and merges back into W with no change in outputs.
#   Each method needs its own learning rate, picked on validation.
# - Pre-training buys accuracy that a thousand labels cannot, for the same network (a
#   paired test says it is not noise), though our small pre-trained GPT does not pull
#   ahead of character-pair statistics; continued pre-training moves the style and costs
#   some general ability (forgetting), measurably.
# - Instruction tuning is continued training on prompt → answer pairs, the prompt's loss
#   masked (targets -1): a few hundred toy pairs teach a format to a model that knew none.
#
# **Exercises** (`exercises/10_finetuning.ipynb`): a classification head with mean pooling
# (core, 15 min); freezing parameters (core, 10 min); the LoRA forward (core, 10 min);
# counting trainable parameters (core, 10 min); merging LoRA (core, 10 min); prompt-masked
# targets (core, 20 min); instruction tuning with and without the prompt's loss (stretch,
# 35 min); three written questions.
