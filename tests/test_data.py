import hashlib
import http.server
import threading

import numpy as np
import pytest

from lmlib import data
from lmlib.data import CORPORA, CharTokenizer, Corpus, get_batch, load_text


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    """No verified texts in memory, an empty cache, and no data folder."""
    monkeypatch.setattr(data, "_verified", {})
    monkeypatch.setenv("LMLIB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("LMLIB_DATA_DIR", raising=False)
    return tmp_path


def test_corpora_have_the_documented_checksums_and_sizes():
    for name, corpus in CORPORA.items():
        raw = load_text(name).encode("utf-8")
        assert len(raw) == corpus.size, name
        assert hashlib.sha256(raw).hexdigest() == corpus.sha256, name


def test_unknown_corpus_lists_the_choices():
    with pytest.raises(ValueError, match=r"'nope'.*names.*shakespeare"):
        load_text("nope")


def test_checksum_mismatch_names_the_file(fresh, monkeypatch):
    folder = fresh / "data"
    folder.mkdir()
    (folder / "names.txt").write_text("emma\nolivia", encoding="utf-8")
    monkeypatch.setenv("LMLIB_DATA_DIR", str(folder))
    with pytest.raises(ValueError, match="names.txt"):
        load_text("names")


def test_offline_error_says_what_failed_and_where_to_put_the_file(fresh, monkeypatch):
    broken = Corpus("names.txt", "http://127.0.0.1:9/names.txt", "0" * 64, 10)
    monkeypatch.setitem(CORPORA, "names", broken)
    with pytest.raises(OSError) as err:
        load_text("names")
    message = str(err.value)
    assert "127.0.0.1:9" in message and "LMLIB_DATA_DIR" in message
    assert str(fresh / "cache" / "names.txt") in message
    assert not (fresh / "cache" / "names.txt").exists()


def test_a_data_dir_that_is_not_a_folder_warns_and_the_error_says_so(fresh, monkeypatch):
    monkeypatch.setenv("LMLIB_DATA_DIR", str(fresh / "no-such-folder"))
    monkeypatch.setitem(CORPORA, "names", Corpus("names.txt", "http://127.0.0.1:9/names.txt",
                                                 "0" * 64, 10))
    with pytest.warns(UserWarning, match="LMLIB_DATA_DIR is set to .*no-such-folder.*not a folder"):
        with pytest.raises(OSError, match="LMLIB_DATA_DIR is set to .*no-such-folder.*not a folder"):
            load_text("names")


@pytest.fixture
def local_server(tmp_path):
    """Serves tmp_path/www over HTTP on a free loopback port."""
    www = tmp_path / "www"
    www.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(www), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield www, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_download_once_into_the_cache_then_reuse(fresh, monkeypatch, local_server):
    www, url = local_server
    body = b"anna\nbob\n"
    (www / "tiny.txt").write_bytes(body)
    corpus = Corpus("names.txt", f"{url}/tiny.txt", hashlib.sha256(body).hexdigest(), len(body))
    monkeypatch.setitem(CORPORA, "names", corpus)
    assert load_text("names") == "anna\nbob\n"
    cached = fresh / "cache" / "names.txt"
    assert cached.read_bytes() == body
    (www / "tiny.txt").unlink()  # a second process finds the cached copy, no download
    monkeypatch.setattr(data, "_verified", {})
    assert load_text("names") == "anna\nbob\n"


def test_download_with_wrong_checksum_is_not_saved(fresh, monkeypatch, local_server):
    www, url = local_server
    (www / "tiny.txt").write_bytes(b"tampered")
    monkeypatch.setitem(CORPORA, "names", Corpus("names.txt", f"{url}/tiny.txt", "0" * 64, 8))
    with pytest.raises(ValueError, match="sha256"):
        load_text("names")
    assert not (fresh / "cache" / "names.txt").exists()


def test_a_truncated_download_says_incomplete_and_retry(fresh, monkeypatch, local_server):
    www, url = local_server
    body = b"anna\nbob\n"
    (www / "tiny.txt").write_bytes(body[:4])  # the connection was cut after 4 bytes
    corpus = Corpus("names.txt", f"{url}/tiny.txt", hashlib.sha256(body).hexdigest(), len(body))
    monkeypatch.setitem(CORPORA, "names", corpus)
    with pytest.raises(OSError, match=r"incomplete \(4 of 9 bytes.*run it again to retry"):
        load_text("names")
    assert not (fresh / "cache" / "names.txt").exists()


def test_char_tokenizer_round_trip_and_vocab():
    tok = CharTokenizer("hello world")
    assert tok.itos == sorted(set("hello world"))
    assert tok.vocab_size == 8
    ids = tok.encode("hello")
    assert ids.dtype == np.int64 and ids.shape == (5,)
    assert [tok.stoi[c] for c in "hello"] == ids.tolist()
    assert tok.decode(ids) == "hello"
    assert tok.decode(ids.tolist()) == "hello"
    assert tok.encode("").shape == (0,)


def test_char_tokenizer_handles_non_ascii():
    tok = CharTokenizer("añ日本")
    assert tok.decode(tok.encode("日añ本")) == "日añ本"


def test_unknown_character_names_the_character_and_position():
    tok = CharTokenizer("abc")
    with pytest.raises(ValueError, match=r"'z' at position 2"):
        tok.encode("abzc")
    with pytest.raises(ValueError, match=r"'é' at position 0"):
        tok.encode("éa")


def test_char_tokenizer_bad_input():
    with pytest.raises(ValueError, match="empty"):
        CharTokenizer("")
    with pytest.raises(TypeError, match="text"):
        CharTokenizer(["a"])
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        CharTokenizer("abc").decode([0, 3])


def test_shakespeare_split():
    tok, train, val = data.shakespeare()
    assert tok.vocab_size == 65
    assert len(train) == 1_003_854 and len(val) == 111_540
    assert tok.decode(train[:14]) == "First Citizen:"


def test_names_split_is_fixed_and_complete():
    tok, train, dev, test = data.names()
    assert tok.vocab_size == 27 and tok.itos[0] == "." and tok.itos[1:] == list("abcdefghijklmnopqrstuvwxyz")
    assert (len(train), len(dev), len(test)) == (25_626, 3_203, 3_204)
    assert sorted(train + dev + test) == sorted(load_text("names").splitlines())
    assert data.names()[1] == train  # the same shuffle every time


def test_get_batch_shapes_and_shift():
    ids = np.arange(100)
    x, y = get_batch(ids, 4, 8, np.random.default_rng(0))
    assert x.shape == y.shape == (4, 8) and x.dtype == y.dtype == np.int64
    np.testing.assert_array_equal(y, x + 1)
    x2, _ = get_batch(ids, 4, 8, np.random.default_rng(0))
    np.testing.assert_array_equal(x, x2)


def test_get_batch_reaches_the_last_token():
    ids = np.arange(10)
    _, y = get_batch(ids, 500, 9, np.random.default_rng(0))
    assert y.max() == 9


def test_get_batch_bad_input():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="block_size"):
        get_batch(np.arange(10), 2, 10, rng)
    with pytest.raises(ValueError, match="block_size"):
        get_batch(np.arange(10), 2, 0, rng)
    with pytest.raises(ValueError, match=r"shape \(N,\)"):
        get_batch(np.zeros((2, 5), dtype=int), 2, 3, rng)
    with pytest.raises(TypeError, match="rng"):
        get_batch(np.arange(10), 2, 3, 0)


def test_get_batch_refuses_float_ids():
    """Float ids were truncated silently; now they are a TypeError (the one validator)."""
    from lmlib.data import get_batch

    rng = np.random.default_rng(0)
    with pytest.raises(TypeError, match="ids must hold integer token ids, got dtype float64"):
        get_batch(np.arange(100) + 0.7, 4, 8, rng)
    x, y = get_batch(np.arange(100, dtype=np.int32), 4, 8, rng)
    assert x.dtype == y.dtype == np.int64


def test_char_decode_of_a_batch_raises_and_names_the_fix():
    """CharTokenizer.decode takes ONE sequence: a (B, T) batch is a ValueError (it used to
    join the rows into one string)."""
    import torch

    from lmlib.data import CharTokenizer

    tok = CharTokenizer("abc")
    batch = np.array([[0, 1], [2, 0]])
    for b in (batch, torch.as_tensor(batch), batch.tolist()):
        with pytest.raises(ValueError, match=r"batch.*tok\.decode\(row\) for row in ids"):
            tok.decode(b)
    assert [tok.decode(row) for row in batch] == ["ab", "ca"]
    assert tok.decode(np.int64(2)) == "c" and tok.decode([]) == ""
    with pytest.raises(TypeError, match="integer"):
        tok.decode([0.0, 1.0])


def test_check_ids_is_the_one_validator():
    import torch

    from lmlib.data import check_ids

    assert check_ids([1, 2], vocab_size=3).dtype == np.int64
    t = torch.tensor([[1, -1]])
    assert check_ids(t, "targets", ndim=2, vocab_size=3, ignore_index=-1) is t
    with pytest.raises(ValueError, match="targets holds negative"):
        check_ids(t, "targets", vocab_size=3)
    with pytest.raises(ValueError, match=r"x must have shape \(B, T\)"):
        check_ids(np.zeros(3, dtype=int), "x", ndim=2)
    with pytest.raises(TypeError, match="not a str"):
        check_ids("abc")
    with pytest.raises(TypeError, match="integer"):
        check_ids(torch.tensor([True]))


def test_check_token_tensor_is_check_ids_for_a_models_input():
    import torch

    from lmlib.data import check_token_tensor

    t = torch.tensor([[1, -1]])
    assert check_token_tensor(t, "targets", vocab_size=3, ignore_index=-1) is t
    with pytest.raises(TypeError, match="idx must be a torch.Tensor"):
        check_token_tensor([[1, 2]], vocab_size=3)
    with pytest.raises(TypeError, match="idx must be a torch.Tensor"):
        check_token_tensor(np.array([[1, 2]]), vocab_size=3)
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        check_token_tensor(torch.tensor([1, 2]), vocab_size=3)
    with pytest.raises(ValueError, match="vocabulary"):
        check_token_tensor(torch.tensor([[3]]), vocab_size=3)
