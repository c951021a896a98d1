"""Fine-tuning: the classification head and its pooling, LoRA (forward, merge, freezing),
trainable-parameter counts, the speaker task and its baselines, and bad input."""

import numpy as np
import pytest
import torch
import torch.nn as nn

from lmlib.data import CharTokenizer
from lmlib.finetune import (
    GPTClassifier,
    LoRALinear,
    accuracy,
    apply_lora,
    configure,
    freeze,
    hidden_states,
    merge_lora,
    pool,
    sft_batch,
    train_classifier,
    train_sft,
    trainable_parameters,
)
from lmlib.models.gpt import GPT, GPTConfig
from lmlib.tasks import (
    LogisticRegression,
    bag_of_ngrams,
    encode_texts,
    majority_baseline,
    parse_speeches,
    speaker_ids,
    speaker_task,
)

torch.set_num_threads(1)

C = 16


def tiny_gpt(seed=0, **kw):
    torch.manual_seed(seed)
    cfg = dict(vocab_size=11, block_size=16, n_layer=2, n_head=2, n_embd=C)
    cfg.update(kw)
    return GPT(GPTConfig(**cfg)).eval()


class StandIn(nn.Module):
    """Not a GPT: two 'blocks', each with an attention-like Linear named c_attn."""

    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList(
            nn.ModuleDict(dict(c_attn=nn.Linear(8, 24), c_proj=nn.Linear(24, 8))) for _ in range(2))
        self.norm = nn.LayerNorm(8)

    def forward(self, x):
        for b in self.blocks:
            x = x + b["c_proj"](torch.tanh(b["c_attn"](x)))
        return self.norm(x)


def _randomise_lora(loras, seed=1):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in loras:
            m.lora_B.copy_(0.1 * torch.randn(m.lora_B.shape, generator=g))


# --------------------------------------------------------------------------------------
# LoRA
# --------------------------------------------------------------------------------------

def test_lora_linear_forward_is_the_formula_float64():
    torch.manual_seed(0)
    base = nn.Linear(6, 5).double()
    lora = LoRALinear(base, r=3, alpha=6.0).double()
    with torch.no_grad():
        lora.lora_B.normal_()
    x = torch.randn(4, 7, 6, dtype=torch.float64)
    W, b, A, B = base.weight, base.bias, lora.lora_A, lora.lora_B
    expected = x @ W.T + b + (6.0 / 3) * (x @ A.T @ B.T)
    torch.testing.assert_close(lora(x), expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(lora.delta_weight(), 2.0 * B @ A)


def test_lora_gradients_reach_only_A_and_B():
    torch.manual_seed(0)
    lora = LoRALinear(nn.Linear(6, 5), r=2, alpha=2.0)
    with torch.no_grad():
        lora.lora_B.normal_()
    lora(torch.randn(3, 6)).pow(2).sum().backward()
    assert lora.base.weight.grad is None and lora.base.bias.grad is None
    assert lora.lora_A.grad is not None and lora.lora_A.grad.abs().sum() > 0
    assert lora.lora_B.grad is not None and lora.lora_B.grad.abs().sum() > 0


def test_zero_init_lora_leaves_outputs_unchanged():
    gpt = tiny_gpt()
    idx = torch.randint(0, 11, (3, 10))
    before = gpt(idx)[0]
    wrapped = apply_lora(gpt, r=4, alpha=8.0)
    assert len(wrapped) == 2 and all(isinstance(m, LoRALinear) for m in wrapped)
    assert all(m.lora_A.abs().sum() > 0 for m in wrapped)  # A random, B zero
    torch.testing.assert_close(gpt(idx)[0], before, rtol=0, atol=0)


def test_merge_lora_keeps_outputs_and_removes_lora():
    gpt = tiny_gpt()
    idx = torch.randint(0, 11, (3, 10))
    before = gpt(idx)[0]
    loras = apply_lora(gpt, r=4, alpha=8.0, targets=("c_attn", "attn.c_proj"))
    assert len(loras) == 4
    _randomise_lora(loras)
    with_lora = gpt(idx)[0]
    assert (with_lora - before).abs().max() > 1e-3  # the update does something
    merged = merge_lora(gpt)
    assert len(merged) == 4 and all(type(m) is nn.Linear for m in merged)
    assert not any(isinstance(m, LoRALinear) for m in gpt.modules())
    torch.testing.assert_close(gpt(idx)[0], with_lora, rtol=0, atol=1e-5)
    assert isinstance(gpt.transformer.h[0].attn.c_attn, nn.Linear)


def test_merge_lora_is_exact_in_float64_and_keeps_dtype():
    gpt = tiny_gpt().double()
    idx = torch.randint(0, 11, (2, 16))
    loras = apply_lora(gpt, r=3, alpha=5.0)
    assert all(m.lora_A.dtype == torch.float64 and m.lora_B.dtype == torch.float64 for m in loras)
    _randomise_lora(loras)
    with_lora = gpt(idx)[0]
    merge_lora(gpt)
    assert gpt.transformer.h[1].attn.c_attn.weight.dtype == torch.float64
    torch.testing.assert_close(gpt(idx)[0], with_lora, rtol=0, atol=1e-12)


def test_apply_lora_on_a_stand_in_module_and_targets_by_suffix():
    model = StandIn()
    x = torch.randn(5, 8)
    before = model(x)
    loras = apply_lora(model, r=2, alpha=4.0, targets="c_attn")
    assert len(loras) == 2
    assert isinstance(model.blocks[1]["c_attn"], LoRALinear)
    assert isinstance(model.blocks[1]["c_proj"], nn.Linear)
    torch.testing.assert_close(model(x), before)
    # only LoRA trains: 2 layers * r * (in + out)
    assert trainable_parameters(model) == 2 * 2 * (8 + 24)
    _randomise_lora(loras)
    out = model(x)
    merge_lora(model)
    torch.testing.assert_close(model(x), out, rtol=0, atol=1e-5)


def test_apply_lora_twice_to_other_layers_keeps_the_first_lora_trainable():
    gpt = tiny_gpt()
    first = apply_lora(gpt, r=2, alpha=2.0, targets=("c_attn",))
    apply_lora(gpt, r=2, alpha=2.0, targets=("mlp.c_fc",))
    assert all(m.lora_A.requires_grad and m.lora_B.requires_grad for m in first)
    assert trainable_parameters(gpt) == 2 * 2 * (C + 3 * C) + 2 * 2 * (C + 4 * C)


def test_lora_bad_input():
    gpt = tiny_gpt()
    for r in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="r "):
            apply_lora(gpt, r=r, alpha=1.0)
        with pytest.raises(ValueError, match="r "):
            LoRALinear(nn.Linear(3, 3), r=r)
    with pytest.raises(ValueError, match="alpha"):
        apply_lora(gpt, r=2, alpha=0)
    with pytest.raises(ValueError, match="targets"):
        apply_lora(gpt, r=2, targets=("q_proj",))  # nothing is called that
    with pytest.raises(ValueError, match="targets"):
        apply_lora(gpt, r=2, targets=())
    with pytest.raises(ValueError, match="targets"):
        apply_lora(gpt, r=2, targets=("attn",))  # matches a module that is not a Linear
    apply_lora(gpt, r=2, targets=("c_attn",))
    with pytest.raises(ValueError, match="targets.*already has LoRA"):
        apply_lora(gpt, r=2, targets=("c_attn",))
    with pytest.raises(TypeError, match="base"):
        LoRALinear(nn.Conv1d(3, 3, 1), r=2)
    with pytest.raises(ValueError, match="no LoRALinear"):
        merge_lora(tiny_gpt())


# --------------------------------------------------------------------------------------
# the classifier
# --------------------------------------------------------------------------------------

def test_hidden_states_are_what_the_lm_head_reads():
    gpt = tiny_gpt()
    idx = torch.randint(0, 11, (2, 9))
    torch.testing.assert_close(gpt.lm_head(hidden_states(gpt, idx)), gpt(idx)[0])


@pytest.mark.parametrize("how", ["last", "mean"])
def test_pooling_with_padding_masked_equals_the_unpadded_result(how):
    gpt = tiny_gpt()
    clf = GPTClassifier(gpt, n_classes=3, pool=how).eval()
    torch.manual_seed(1)
    texts = [torch.randint(0, 11, (n,)) for n in (3, 9, 6)]
    idx = torch.randint(0, 11, (3, 12))  # junk in the padding: it must not matter
    mask = torch.zeros(3, 12, dtype=torch.bool)
    for i, t in enumerate(texts):
        idx[i, :len(t)] = t
        mask[i, :len(t)] = True
    padded = clf(idx, mask=mask)[0]
    alone = torch.cat([clf(t[None])[0] for t in texts])
    torch.testing.assert_close(padded, alone, rtol=0, atol=1e-5)
    # and without the mask the padding would change the answer
    assert (clf(idx)[0] - alone).abs().max() > 1e-4


def test_pool_by_hand():
    h = torch.arange(2 * 4 * 3, dtype=torch.float32).view(2, 4, 3)
    mask = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]], dtype=torch.bool)
    torch.testing.assert_close(pool(h, mask, "last"), torch.stack([h[0, 1], h[1, 3]]))
    torch.testing.assert_close(pool(h, mask, "mean"), torch.stack([h[0, :2].mean(0), h[1].mean(0)]))


def test_classifier_loss_and_shapes():
    clf = GPTClassifier(tiny_gpt(), n_classes=4)
    idx = torch.randint(0, 11, (5, 7))
    logits, loss = clf(idx, torch.tensor([0, 1, 2, 3, 0]))
    assert logits.shape == (5, 4)
    assert abs(loss.item() - np.log(4)) < 0.1  # small head init: near-uniform at first
    assert clf(idx)[1] is None


def test_classifier_bad_input():
    gpt = tiny_gpt()
    for n in (1, 0, -3, 2.0, True):
        with pytest.raises(ValueError, match="n_classes"):
            GPTClassifier(gpt, n_classes=n)
    with pytest.raises(ValueError, match="pool"):
        GPTClassifier(gpt, n_classes=3, pool="max")
    with pytest.raises(TypeError, match="gpt"):
        GPTClassifier(nn.Linear(3, 3), n_classes=3)
    clf = GPTClassifier(gpt, n_classes=3)
    idx = torch.randint(0, 11, (2, 5))
    left_padded = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]], dtype=torch.bool)
    with pytest.raises(ValueError, match="mask"):
        clf(idx, mask=left_padded)
    with pytest.raises(ValueError, match="mask"):
        clf(idx, mask=torch.ones(2, 4, dtype=torch.bool))


# --------------------------------------------------------------------------------------
# what trains
# --------------------------------------------------------------------------------------

def _n(module):
    return sum(p.numel() for p in module.parameters())


def test_trainable_counts_of_each_method():
    K, r = 5, 4
    head = C * K + K
    full = configure(GPTClassifier(tiny_gpt(), K), "full")
    assert trainable_parameters(full) == _n(full)  # tied lm_head counted once
    assert trainable_parameters(full) == tiny_gpt().num_params() + head
    probe = configure(GPTClassifier(tiny_gpt(), K), "probe")
    assert trainable_parameters(probe) == head
    last = configure(GPTClassifier(tiny_gpt(), K), "last", n_last=1)
    t = last.gpt.transformer
    assert trainable_parameters(last) == _n(t.h[-1]) + _n(t.ln_f) + head
    lora = configure(GPTClassifier(tiny_gpt(), K), "lora", r=r)
    assert trainable_parameters(lora) == 2 * r * (C + 3 * C) + head
    with pytest.raises(ValueError, match="method"):
        configure(GPTClassifier(tiny_gpt(), K), "adapters")
    with pytest.raises(ValueError, match="n_last"):
        configure(GPTClassifier(tiny_gpt(), K), "last", n_last=3)


def test_freeze_and_count():
    lin = nn.Linear(3, 2)
    assert trainable_parameters(lin) == 8
    assert trainable_parameters(freeze(lin)) == 0
    assert trainable_parameters(freeze(lin, trainable=True)) == 8


def _toy_task(n=64, seed=0):
    """Class 0 texts are runs of small ids, class 1 of large ids, of random lengths."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    idx = torch.zeros(n, 10, dtype=torch.long)
    mask = torch.zeros(n, 10, dtype=torch.bool)
    for i, y in enumerate(labels):
        L = int(rng.integers(2, 11))
        idx[i, :L] = torch.as_tensor(rng.integers(0, 5, L) + 6 * y)
        mask[i, :L] = True
    return idx, mask, torch.as_tensor(labels)


def test_train_classifier_learns_and_frozen_parameters_do_not_move():
    clf = configure(GPTClassifier(tiny_gpt(), 2), "last")
    frozen_before = clf.gpt.transformer.h[0].attn.c_attn.weight.clone()
    train = _toy_task(256)
    assert accuracy(clf, *train) < 0.7  # untrained: about chance
    hist = train_classifier(clf, train, _toy_task(seed=1), steps=60, batch_size=16, lr=1e-2,
                            eval_interval=30)
    assert hist["steps"] == [30, 60] and len(hist["val_acc"]) == 2
    assert hist["train_loss"][-1] < 0.5 * np.log(2)  # from ln 2 at chance
    assert hist["val_acc"][-1] >= 0.9 and accuracy(clf, *train) >= 0.9
    torch.testing.assert_close(clf.gpt.transformer.h[0].attn.c_attn.weight, frozen_before,
                               rtol=0, atol=0)
    with pytest.raises(ValueError, match="trainable"):
        train_classifier(freeze(clf), train, steps=2)


def test_the_classifier_trains_through_the_one_training_loop():
    """train_classifier is the course's Trainer on examples: the same run by hand gives the
    same history and, with keep_best, the weights of the best evaluation."""
    from lmlib.train import TrainConfig, Trainer

    train, val = _toy_task(96), _toy_task(32, seed=1)
    kw = dict(steps=12, batch_size=16, lr=1e-2, eval_interval=4)
    hist = train_classifier(configure(GPTClassifier(tiny_gpt(), 2), "last"), train, val, **kw)
    clf = configure(GPTClassifier(tiny_gpt(), 2), "last")
    config = TrainConfig(steps=12, batch_size=16, lr=1e-2, warmup=12, weight_decay=0.01,
                         eval_interval=4, device="cpu")
    trainer = Trainer(clf, train, val, config, keep_best=True)
    h = trainer.run(progress=False, plot=False)
    assert h.steps == hist["steps"] == [4, 8, 12]
    assert h.train_loss == hist["train_loss"] and h.val_acc == hist["val_acc"]
    assert h.val_loss == [] and h.best_val == max(h.val_acc) == hist["best_val_acc"]
    trainer.load_best()
    assert accuracy(clf, *val) == h.best_val


def test_a_time_limited_classifier_run_evaluates_its_last_step():
    clf = configure(GPTClassifier(tiny_gpt(), 2), "last")
    hist = train_classifier(clf, _toy_task(64), _toy_task(32, seed=1), steps=50,
                            batch_size=16, eval_interval=20, time_limit=0.0)
    assert hist["steps"] == [1] and len(hist["val_acc"]) == 1 and hist["best_step"] == 1


def test_examples_bad_input_is_named():
    from lmlib.train import TrainConfig, Trainer

    clf = GPTClassifier(tiny_gpt(), 2)
    idx, mask, labels = _toy_task(32)
    config = TrainConfig(steps=2, batch_size=8, device="cpu")
    with pytest.raises(TypeError, match="train must be a tuple"):
        Trainer(clf, (idx, labels), None, config)
    with pytest.raises(ValueError, match="val:.*same"):
        Trainer(clf, (idx, mask, labels), (idx, mask, labels[:5]), config)
    with pytest.raises(TypeError, match="train must be a tuple"):
        train_classifier(clf, [idx, mask, labels])
    with pytest.raises(ValueError, match="keep_best"):
        Trainer(clf, (idx, mask, labels), None, config).load_best()


# --------------------------------------------------------------------------------------
# the speaker task and the baselines
# --------------------------------------------------------------------------------------

SCRIPT = """First Citizen:
Before we proceed any further, hear me speak.

All:
Speak, speak.

ROMEO:
Is the day so young?

BENVOLIO:
But new struck nine.

ROMEO:
Ay me! sad hours seem long.
Was that my father that went hence so fast?

BENVOLIO:
It was. What sadness lengthens Romeo's hours?

ROMEO:
Not having that.
"""


def test_parse_speeches_strips_tags_and_keeps_offsets():
    speeches = parse_speeches(SCRIPT)
    assert [s.speaker for s in speeches] == ["First Citizen", "All", "ROMEO", "BENVOLIO",
                                             "ROMEO", "BENVOLIO", "ROMEO"]
    assert speeches[4].text == ("Ay me! sad hours seem long.\n"
                                "Was that my father that went hence so fast?")
    for s in speeches:
        assert SCRIPT[s.start:s.start + len(s.text)] == s.text
        assert not s.text.endswith(":")


def test_speaker_task_is_fixed_disjoint_stratified():
    a, b = speaker_task(), speaker_task()
    assert len(a.speakers) == 10 and a.speakers[:2] == ["GLOUCESTER", "DUKE VINCENTIO"]
    for split in ("train", "val", "test"):
        assert getattr(a, split).texts == getattr(b, split).texts
        np.testing.assert_array_equal(getattr(a, split).labels, getattr(b, split).labels)
    starts = [set(getattr(a, s).starts.tolist()) for s in ("train", "val", "test")]
    assert not (starts[0] & starts[1]) and not (starts[0] & starts[2]) and not (starts[1] & starts[2])
    counts = a.class_counts()
    total = counts["train"] + counts["val"] + counts["test"]
    assert total.tolist() == sorted(total.tolist(), reverse=True)  # most frequent first
    assert np.all(np.abs(counts["test"] / total - 0.15) < 0.02)  # stratified
    assert not any(t.split("\n")[0].rstrip(":") in a.speakers for t in a.test.texts)
    c = speaker_task(seed=1)
    assert c.test.texts != a.test.texts
    with pytest.raises(ValueError, match="n_speakers"):
        speaker_task(n_speakers=1)
    with pytest.raises(ValueError, match="fractions"):
        speaker_task(fractions=(0.5, 0.5, 0.5))
    with pytest.raises(ValueError, match="n_speakers"):
        speaker_task(n_speakers=5, text=SCRIPT)


def test_encode_texts_right_pads_and_truncates():
    tok = CharTokenizer("abc")
    idx, mask = encode_texts(["ab", "cabca", "c"], tok, block_size=4)
    assert idx.shape == (3, 4) and mask.dtype == torch.bool
    assert mask.sum(1).tolist() == [2, 4, 1]
    assert idx[1].tolist() == tok.encode("cabc").tolist()
    with pytest.raises(ValueError, match="empty"):
        encode_texts(["ab", ""], tok, 4)
    with pytest.raises(TypeError, match="texts"):
        encode_texts("ab", tok, 4)


def test_bag_of_ngrams_counts():
    tok = CharTokenizer("abc")
    X = bag_of_ngrams(["abab", "c"], tok, orders=(1, 2))
    assert X.shape == (2, 3 + 9)
    np.testing.assert_allclose(X[0, :3], [0.5, 0.5, 0.0])
    ab, ba = 0 * 3 + 1, 1 * 3 + 0  # bigram id = first * V + second
    np.testing.assert_allclose(X[0, 3 + ab], 2 / 3)
    np.testing.assert_allclose(X[0, 3 + ba], 1 / 3)
    np.testing.assert_allclose(X[1, 3:], 0.0)  # one character: no bigram


def test_logistic_regression_and_majority():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    X = rng.normal(size=(300, 5)) + 3 * np.eye(3, 5)[y]
    model = LogisticRegression(l2=1e-3).fit(X[:200], y[:200])
    assert model.score(X[200:], y[200:]) > 0.9
    np.testing.assert_allclose(model.predict_proba(X[:3]).sum(1), 1.0)
    assert majority_baseline([0, 1, 1, 2], [1, 1, 0, 2]) == 0.5
    with pytest.raises(ValueError, match="l2"):
        LogisticRegression(l2=-1)


def test_speaker_ids_for_continued_pretraining():
    tok = CharTokenizer(SCRIPT)
    train_ids, val_ids = speaker_ids("ROMEO", tok, val_fraction=0.34, text=SCRIPT)
    train_text, val_text = tok.decode(train_ids), tok.decode(val_ids)
    assert train_text.startswith("ROMEO:\n") and val_text.startswith("ROMEO:\n")
    assert train_text.count("ROMEO:") == 2 and val_text.count("ROMEO:") == 1
    assert "BENVOLIO" not in train_text + val_text
    for line in ("Is the day so young?", "Not having that."):
        assert (line in train_text) != (line in val_text)  # each speech in one stream
    with pytest.raises(ValueError, match="speaker"):
        speaker_ids("JULIET", tok, text=SCRIPT)


# ---------------------------------------------------------------------- instruction tuning

def test_sft_batch_masks_the_prompt_and_the_padding():
    x, y = sft_batch([([5, 6, 7], [8, 9]), ([1], [2, 3])])
    assert x.tolist() == [[5, 6, 7, 8], [1, 2, 0, 0]]
    assert y.tolist() == [[-1, -1, 8, 9], [2, 3, -1, -1]]
    _, y_all = sft_batch([([5, 6, 7], [8, 9])], mask_prompt=False)
    assert y_all.tolist() == [[6, 7, 8, 9]]


def test_sft_loss_is_the_mean_over_the_answer_tokens():
    torch.manual_seed(0)
    gpt = GPT(GPTConfig(vocab_size=12, block_size=16, n_layer=1, n_head=2, n_embd=16)).eval()
    pairs = [([1, 2, 3], [4, 5]), ([6], [7, 8, 9])]
    x, y = sft_batch(pairs)
    with torch.no_grad():
        logp = torch.log_softmax(gpt(x)[0], dim=-1)
        loss = gpt(x, y)[1]
    nll = [-logp[i, len(p) - 1 + j, a[j]] for i, (p, a) in enumerate(pairs) for j in range(len(a))]
    torch.testing.assert_close(loss, torch.stack(nll).mean())


@pytest.mark.parametrize("pairs, error", [
    ([], ValueError), ([([], [1])], ValueError), ([([1], [])], ValueError),
    (([1, 2], [3]), TypeError), ([([1], [2], [3])], ValueError)])
def test_sft_batch_rejects_bad_pairs(pairs, error):
    with pytest.raises(error, match="pair"):
        sft_batch(pairs)


def test_train_sft_learns_the_answers_only():
    torch.manual_seed(0)
    gpt = GPT(GPTConfig(vocab_size=6, block_size=8, n_layer=1, n_head=1, n_embd=16))
    pairs = [([a, b, 5], [a]) for a in range(5) for b in range(5)]  # answer: the first token
    hist = train_sft(gpt, pairs, steps=150, lr=1e-2, batch_size=25, eval_interval=10)
    assert hist["train_loss"][-1] < 0.3 * hist["train_loss"][0]

