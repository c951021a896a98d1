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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ngrams-to-gpt/ngrams-to-gpt/blob/main/solutions/10_finetuning.ipynb)

# %% [markdown]
# # 10 · Exercises: pre-training and fine-tuning
#
# Fill in each function where it says `# YOUR CODE HERE`, then run the **check** cell under
# it. A check cell prints `correct` when your code is right and stops with an error that
# tells you what is wrong otherwise. The exercises use a small random GPT so that they run
# in seconds; everything works the same on the pre-trained one
# (`lmlib.load_pretrained("shakespeare-gpt")`).
#
# | exercise | level | minutes |
# |---|---|---|
# | 1. a classification head with mean pooling | core | 15 |
# | 2. freezing parameters | core | 10 |
# | 3. the LoRA forward | core | 10 |
# | 4. counting trainable parameters | core | 10 |
# | 5. merging LoRA into the weight | core | 10 |
# | 6. prompt-masked targets for instruction tuning | core | 20 |
# | 7. instruction tuning, with and without the prompt's loss | stretch | 35 |
#
# Then three written questions.

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
import torch
import torch.nn as nn

import lmlib.finetune as ft
import lmlib.sampling as S
from lmlib.models import GPT, GPTConfig


def small_gpt(seed=0):
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=65, block_size=32, n_layer=2, n_head=2, n_embd=32)).eval()


# a right-padded batch: three texts of lengths 5, 12 and 9, junk in the padding
torch.manual_seed(1)
idx = torch.randint(0, 65, (3, 12))
mask = torch.arange(12)[None, :] < torch.tensor([5, 12, 9])[:, None]  # (3, 12), True = real

# %% [markdown]
# ## Exercise 1: a classification head with mean pooling (core, 15 min)
#
# Complete `MeanPoolClassifier`: the GPT body gives features `h` of shape (B, T, C)
# (use `ft.hidden_states(self.gpt, idx)`); average them over the **real** positions only
# (`mask` is True there), then apply the Linear `self.head` (C → K). Return the logits
# (B, K). Padding must not change the answer.

# %%
class MeanPoolClassifier(nn.Module):
    def __init__(self, gpt, n_classes):
        super().__init__()
        self.gpt = gpt
        self.head = nn.Linear(gpt.config.n_embd, n_classes)

    def forward(self, idx, mask):
        """idx (B, T) token ids, mask (B, T) bool -> logits (B, n_classes)."""
        ### BEGIN SOLUTION
        h = ft.hidden_states(self.gpt, idx)                       # (B, T, C)
        m = mask.unsqueeze(-1).to(h.dtype)                        # (B, T, 1)
        pooled = (h * m).sum(1) / m.sum(1)                        # (B, C)
        return self.head(pooled)
        ### END SOLUTION


# %% tags=["check"]
# Check: a classification head
mine = MeanPoolClassifier(small_gpt(), n_classes=4)
ref = ft.GPTClassifier(mine.gpt, n_classes=4, pool="mean")
ref.head.load_state_dict(mine.head.state_dict())
with torch.no_grad():
    out = mine(idx, mask)
    assert out.shape == (3, 4), f"expected logits of shape (3, 4), got {tuple(out.shape)}"
    torch.testing.assert_close(out, ref(idx, mask=mask)[0], atol=1e-5, rtol=0, msg=lambda m: (
        "average the features over the REAL positions only (where mask is True), then the head\n" + m))
    alone = mine(idx[:1, :5], mask[:1, :5])
    torch.testing.assert_close(out[:1], alone, atol=1e-5, rtol=0,
                               msg="the padded text must get the logits it gets alone")
print("a classification head: correct")

# %% [markdown]
# ## Exercise 2: freezing parameters (core, 10 min)
#
# Make only the **last `n_last` blocks**, the final LayerNorm `ln_f` and the classifier's
# `head` trainable: set `requires_grad` to False on every other parameter of `clf`
# (a `ft.GPTClassifier`) and to True on these. Return `clf`.

# %%
def train_only_the_top(clf, n_last=1):
    ### BEGIN SOLUTION
    for p in clf.parameters():
        p.requires_grad = False
    top = list(clf.gpt.transformer.h[-n_last:]) + [clf.gpt.transformer.ln_f, clf.head]
    for module in top:
        for p in module.parameters():
            p.requires_grad = True
    return clf
    ### END SOLUTION


# %% tags=["check"]
# Check: freezing parameters
clf = train_only_the_top(ft.GPTClassifier(small_gpt(), 3), n_last=1)
trainable = {n for n, p in clf.named_parameters() if p.requires_grad}
assert "head.weight" in trainable, "the classifier's head must train"
assert "gpt.transformer.ln_f.weight" in trainable, "the final LayerNorm ln_f must train"
assert any(n.startswith("gpt.transformer.h.1.") for n in trainable), "the last block must train"
assert not any(n.startswith("gpt.transformer.h.0.") for n in trainable), "block 0 must be frozen"
assert "gpt.transformer.wte.weight" not in trainable, "the embeddings must be frozen"
expected = ft.configure(ft.GPTClassifier(small_gpt(), 3), "last", n_last=1)
assert trainable == {n for n, p in expected.named_parameters() if p.requires_grad}, \
    "differs from ft.configure(clf, 'last')"
# one training step moves the top and nothing else
before = {n: p.detach().clone() for n, p in clf.named_parameters()}
opt = torch.optim.SGD([p for p in clf.parameters() if p.requires_grad], lr=0.1)
clf(idx, torch.tensor([0, 1, 2]), mask=mask)[1].backward()
opt.step()
moved = {n for n, p in clf.named_parameters() if not torch.equal(p, before[n])}
assert moved and moved <= trainable, f"frozen parameters moved: {sorted(moved - trainable)[:3]}"
print("freezing parameters: correct")

# %% [markdown]
# ## Exercise 3: the LoRA forward (core, 10 min)
#
# A LoRA layer keeps a frozen Linear (weight `W` (d_out, d_in), bias `b` (d_out,)) and adds a
# low-rank update: `y = x W^T + b + (alpha / r) * x A^T B^T` with `A` (r, d_in) and
# `B` (d_out, r). Write it for `x` of shape (..., d_in). Tip: compute `x A^T` first; never
# form the (d_out, d_in) product `B A` in the forward pass.

# %%
def lora_forward(x, W, b, A, B, alpha):
    ### BEGIN SOLUTION
    r = A.shape[0]
    return x @ W.T + b + (alpha / r) * ((x @ A.T) @ B.T)
    ### END SOLUTION


# %% tags=["check"]
# Check: the LoRA forward
torch.manual_seed(0)
layer = ft.LoRALinear(nn.Linear(6, 9), r=2, alpha=4.0)
x = torch.randn(3, 5, 6)
W, b, A, B = layer.base.weight, layer.base.bias, layer.lora_A, layer.lora_B
with torch.no_grad():
    torch.testing.assert_close(lora_forward(x, W, b, A, B, 4.0), layer.base(x),
                               msg="with B = 0 the layer must equal the frozen Linear")
    B.normal_()
    torch.testing.assert_close(lora_forward(x, W, b, A, B, 4.0), layer(x), msg=lambda m: (
        "y = x W^T + b + (alpha / r) x A^T B^T differs from ft.LoRALinear\n" + m))
    torch.testing.assert_close(lora_forward(x, W, b, A, B, 8.0) - layer.base(x),
                               2 * (layer(x) - layer.base(x)), msg="the update scales with alpha / r")
    torch.testing.assert_close(lora_forward(x, W, b, A[:1], B[:, :1], 2.0) - layer.base(x),
                               2.0 * (x @ A[:1].T) @ B[:, :1].T,
                               msg="the scale is alpha / r, with r = A.shape[0] (here 2 / 1)")
print("the LoRA forward: correct")

# %% [markdown]
# ## Exercise 4: counting trainable parameters (core, 10 min)
#
# (a) `count_trainable(model)`: the number of parameters with `requires_grad`; a tensor that
# two modules share (a tied weight) counts **once** (`model.parameters()` already yields
# each tensor once). (b) `lora_count(d_in, d_out, r, n_layers)`: how many numbers LoRA of
# rank `r` trains on `n_layers` Linear layers of shape d_in → d_out.

# %%
def count_trainable(model):
    ### BEGIN SOLUTION
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
    ### END SOLUTION


def lora_count(d_in, d_out, r, n_layers):
    ### BEGIN SOLUTION
    return n_layers * r * (d_in + d_out)
    ### END SOLUTION


# %% tags=["check"]
# Check: counting trainable parameters
gpt = small_gpt()
assert count_trainable(gpt) == gpt.num_params(), "the tied lm_head / wte matrix counts once"
assert count_trainable(nn.Linear(10, 3)) == 33, "a Linear 10 -> 3 has 30 weights and 3 biases"
probe = ft.configure(ft.GPTClassifier(small_gpt(), 5), "probe")
assert count_trainable(probe) == 32 * 5 + 5, "a linear probe trains only the head"
body = small_gpt()
ft.apply_lora(body, r=4, alpha=8, targets=("c_attn",))
assert count_trainable(body) == ft.trainable_parameters(body), "count only the parameters with requires_grad"
assert lora_count(32, 96, 4, 2) == count_trainable(body), "c_attn is 32 -> 96, in 2 blocks"
assert lora_count(768, 2304, 8, 12) == 294_912, "GPT-2 small, r = 8 on c_attn (768 -> 2304) in 12 blocks"
print("counting trainable parameters: correct")

# %% [markdown]
# ## Exercise 5: merging LoRA into the weight (core, 10 min)
#
# After training, LoRA's update can be folded into the frozen weight so that the layer is a
# plain Linear again: return the merged weight `W + (alpha / r) B A` (shape (d_out, d_in)).

# %%
def merged_weight(W, A, B, alpha):
    ### BEGIN SOLUTION
    return W + (alpha / A.shape[0]) * (B @ A)
    ### END SOLUTION


# %% tags=["check"]
# Check: merging LoRA
torch.manual_seed(2)
layer = ft.LoRALinear(nn.Linear(6, 9), r=3, alpha=6.0)
with torch.no_grad():
    layer.lora_B.normal_()
    Wm = merged_weight(layer.base.weight, layer.lora_A, layer.lora_B, 6.0)
    assert Wm.shape == (9, 6), f"the merged weight has W's shape (d_out, d_in) = (9, 6), got {tuple(Wm.shape)}"
    x = torch.randn(4, 6)
    torch.testing.assert_close(x @ Wm.T + layer.base.bias, layer(x), atol=1e-5, rtol=0, msg=lambda m: (
        "the merged layer must compute what the LoRA layer computes: W + (alpha / r) B A\n" + m))
    torch.testing.assert_close(Wm, layer.merged().weight)
print("merging LoRA: correct")

# %% [markdown]
# ## Exercise 6: prompt-masked targets for instruction tuning (core, 20 min)
#
# Instruction tuning (supervised fine-tuning, SFT) trains a language model on examples of a
# **prompt** followed by a good **answer**, with the ordinary next-token loss, but usually
# only on the answer: the model should learn to answer, not to write the user's prompts.
# The GPT's loss ignores every target equal to `-1`, so masking the prompt is a matter of
# building the targets.
#
# Write `sft_batch(pairs, mask_prompt=True)`. `pairs` is a list of `(prompt_ids,
# answer_ids)` (lists of ints, each non-empty). For each pair, let `seq = prompt + answer`;
# the inputs are `seq[:-1]` and the targets `seq[1:]` (position t predicts token t + 1).
# With `mask_prompt`, every target that is a **prompt** token becomes `-1`; the first answer
# token, predicted at the last prompt position, is kept. Right-pad the rows to the longest
# one: inputs with `0`, targets with `-1`. Return `x, y`, two int64 tensors of shape (B, T).

# %%
def sft_batch(pairs, mask_prompt=True):
    ### BEGIN SOLUTION
    rows = []
    for prompt, answer in pairs:
        seq = list(prompt) + list(answer)
        y = seq[1:]
        if mask_prompt:
            y = [-1] * (len(prompt) - 1) + y[len(prompt) - 1:]
        rows.append((seq[:-1], y))
    T = max(len(x) for x, _ in rows)
    x = torch.tensor([x + [0] * (T - len(x)) for x, _ in rows])
    y = torch.tensor([y + [-1] * (T - len(y)) for _, y in rows])
    return x, y
    ### END SOLUTION


# %% tags=["check"]
# Check: prompt-masked targets
x, y = sft_batch([([5, 6, 7], [8, 9]), ([1], [2, 3, 4, 10])])
assert x.shape == y.shape == (2, 4), f"expected x and y of shape (2, 4), got {tuple(x.shape)}, {tuple(y.shape)}"
assert x[0].tolist() == [5, 6, 7, 8] and x[1].tolist() == [1, 2, 3, 4], \
    "the inputs are prompt + answer without the last token"
_, y3 = sft_batch([([5, 6, 7], [8, 9])], mask_prompt=False)
assert y3[0].tolist() == [6, 7, 8, 9], \
    "the targets are the inputs shifted by one, y[t] = seq[t + 1]; mask_prompt=False keeps every one"
assert y[0, 2] == 8, "the first answer token (8) is predicted at the last prompt position: keep it"
assert y[0, :2].tolist() == [-1, -1], "the targets that are prompt tokens (6, 7) must be -1"
assert y[0, 3] == 9, "the targets that are answer tokens are kept"
assert y[1].tolist() == [2, 3, 4, 10], "a one-token prompt has no prompt target to mask"
x2, y2 = sft_batch([([5, 6, 7], [8, 9]), ([1, 2], [3])])
assert x2[1, 2] == 0 and y2[1].tolist() == [-1, 3, -1, -1], \
    "pad on the right: inputs with 0, targets with -1 (padding must not count in the loss)"
# the same as lmlib's, on random pairs
g = torch.Generator().manual_seed(0)
rand = lambda: torch.randint(0, 65, (int(torch.randint(1, 9, (), generator=g)),), generator=g).tolist()
pairs = [(rand(), rand()) for _ in range(6)]
for mask_prompt in (True, False):
    for mine_t, ref_t in zip(sft_batch(pairs, mask_prompt), ft.sft_batch(pairs, mask_prompt)):
        assert torch.equal(mine_t, ref_t), f"differs from lmlib.finetune.sft_batch (mask_prompt={mask_prompt})"
# the GPT's loss is then the mean next-token loss over the answer tokens only
gpt = small_gpt()
x, y = sft_batch(pairs)
with torch.no_grad():
    loss = gpt(x, y)[1]
    logp = torch.log_softmax(gpt(x)[0], dim=-1)
    nll = [-logp[i, len(p) - 1 + j, a[j]] for i, (p, a) in enumerate(pairs) for j in range(len(a))]
torch.testing.assert_close(loss, torch.stack(nll).mean(), msg="the loss must cover the answer tokens only")
print("prompt-masked targets: correct")

# %% [markdown]
# ## Exercise 7: instruction tuning, with and without the prompt's loss (stretch, 35 min)
#
# A toy instruction set: the prompt is three letters and `=`, the answer is the prompt's
# **first** letter twice and a full stop (`cab=` → `cc.`). The letters of the prompts are
# not uniform (`a` is the most frequent), so a model that is trained on the prompts too can
# learn their distribution; one trained on the answers only has no reason to.
#
# Write `instruction_tune(model, pairs, mask_prompt, steps, lr, batch_size, seed)`: AdamW
# on all the model's parameters with the learning rate `lr`; each step draws `batch_size`
# random pairs (with `torch.Generator().manual_seed(seed)`), builds the batch with your
# `sft_batch`, and takes one step on the GPT's loss `model(x, y)[1]`. Return the list of
# the training losses. The check cell trains two tiny GPTs, one with the prompt masked and
# one without, and compares them on prompts neither saw.

# %%
letters = "abcdefgh"
VOCAB = letters + "=."
encode = lambda s: [VOCAB.index(c) for c in s]
weights = torch.tensor([8.0, 4, 2, 1, 1, 1, 1, 1])
g = torch.Generator().manual_seed(0)
prompts = sorted({"".join(letters[i] for i in torch.multinomial(weights, 3, True, generator=g)) + "="
                  for _ in range(400)})
prompts = [prompts[i] for i in torch.randperm(len(prompts), generator=g)]   # shuffled
toy = [(encode(p), encode(p[0] * 2 + ".")) for p in prompts]
toy_train, toy_test = toy[: int(0.8 * len(toy))], toy[int(0.8 * len(toy)):]


def toy_gpt(seed=0):
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=len(VOCAB), block_size=8, n_layer=2, n_head=2, n_embd=32))


def instruction_tune(model, pairs, mask_prompt, steps=200, lr=3e-3, batch_size=32, seed=0):
    ### BEGIN SOLUTION
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    model.train()
    losses = []
    for _ in range(steps):
        batch = [pairs[i] for i in torch.randint(0, len(pairs), (batch_size,), generator=g)]
        x, y = sft_batch(batch, mask_prompt)
        loss = model(x, y)[1]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses
    ### END SOLUTION


# %% tags=["check"]
# Check: instruction tuning
@torch.no_grad()
def toy_scores(model, pairs):
    """(exact-match rate of the greedy answers, mean loss on the prompt tokens)."""
    model.eval()
    right = [S.generate(model, p, len(a), temperature=0)[len(p):] == a for p, a in pairs]
    x, y_all = ft.sft_batch(pairs, mask_prompt=False)
    _, y_answer = ft.sft_batch(pairs, mask_prompt=True)
    y_prompt = y_all.masked_fill(y_answer != -1, -1)   # the targets that are prompt tokens
    return sum(right) / len(right), model(x, y_prompt)[1].item()


results = {}
for mask_prompt in (True, False):
    model = toy_gpt()
    losses = instruction_tune(model, toy_train, mask_prompt)
    assert len(losses) == 200, "return the list of the training losses, one per step"
    results[mask_prompt] = toy_scores(model, toy_test)
    print(f"mask_prompt={mask_prompt}: held-out answers right {results[mask_prompt][0]:.2f}, "
          f"loss on the prompt tokens {results[mask_prompt][1]:.2f} nats")
assert results[True][0] >= 0.9, \
    "after instruction tuning the model must answer held-out prompts (zero_grad, backward, step)"
assert results[False][1] < results[True][1] - 0.3, \
    "with mask_prompt=False the prompt tokens are trained too: pass mask_prompt on to sft_batch"
print("instruction tuning: correct")

# %% [markdown]
# ## Written questions
#
# **Question 1 (2 points):** In exercise 7 the two models answer held-out prompts about
# equally well, but only one of them learned what prompts look like. Why would a chat
# assistant's developers mask the prompt's loss? Name one reason someone might *not* mask it.

# %% [markdown] tags=["written"]
# ### BEGIN SOLUTION
# **Model answer.** With the prompt masked, every gradient comes from the answers: the model
# is trained to produce good answers given a prompt, not to imitate users' prompts (which
# may be badly written, and which the assistant never has to produce); with a fixed budget
# of steps all of it goes into the behaviour we want, and the loss that is reported measures
# that behaviour. Reasons not to mask: the prompts are text too, and learning them is extra
# language-modelling signal when data is scarce (short answers, long prompts), which some
# studies found helps; it also keeps the model closer to its pre-training objective.
#
# **Rubric (2 points).** 1 point: masking spends the training signal on answers only (the
# model should answer, not write prompts). 1 point: a sensible reason for the unmasked loss
# (extra signal from the prompts when answers are short or data scarce; less drift).
# ### END SOLUTION

# %% [markdown]
# **Question 2 (2 points):** BERT classifies a text from the features of a `[CLS]` token
# placed at its **start**; a GPT classifier reads the features at the **last** token (or an
# average). Why would a `[CLS]` token at the start be useless in a GPT?

# %% [markdown] tags=["written"]
# ### BEGIN SOLUTION
# **Model answer.** A GPT's attention is causal: position t sees only positions 0..t. The
# first position therefore sees only itself, and its features are the same whatever text
# follows: a head on them cannot tell texts apart. BERT's attention is bidirectional, so its
# first token sees the whole text and can summarise it. In a GPT only the last position has
# seen everything, which is why GPT-1 appended an extraction token at the end and read the
# classifier from there.
#
# **Rubric (2 points).** 1 point: causal mask, so the first position sees nothing after it.
# 1 point: BERT is bidirectional / in a GPT the last token is the one that sees the whole text.
# ### END SOLUTION

# %% [markdown]
# **Question 3 (2 points):** The shipped GPT was pre-trained on the first 90% of the corpus,
# tags included, so it read most of the speaker task's test speeches next to their
# speakers' names. How could that flatter the pre-trained models in chapter 10's table?
# Describe an experiment that would remove the doubt.

# %% [markdown] tags=["written"]
# ### BEGIN SOLUTION
# **Model answer.** A model that read a test speech under its speaker's tag may have stored
# an association between that text and that name, so its test accuracy can be higher than
# on truly new speeches: the comparison with the bag of characters and with the model
# trained from scratch (which never saw the test speeches) is then biased in favour of the
# pre-trained ones. Clean experiment: pre-train on text that contains none of the task's
# speeches (hold out whole plays, or remove the test speeches and their tags from the
# pre-training text), then fine-tune and test on the held-out speeches; compare with the
# current numbers.
#
# **Rubric (2 points).** 1 point: leakage (test speeches seen with their labels) can
# inflate the pre-trained models' accuracy. 1 point: a concrete fix (pre-train on text
# disjoint from the test speeches, e.g. holding out plays).
# ### END SOLUTION
