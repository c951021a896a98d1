import subprocess
import sys

from coursekit.doctor import main


def test_doctor_reports_versions_and_data(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("LMLIB_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("LMLIB_DATA_DIR", raising=False)
    monkeypatch.delenv("LMLIB_DEVICE", raising=False)
    rc = main(["doctor"])
    out = capsys.readouterr().out
    assert "torch" in out and "widget front end" in out and "device" in out
    # no data folder and an empty cache: both corpora reported, with what to do
    assert rc == 1
    assert "corpus names: will be downloaded" in out and str(tmp_path) in out


def test_doctor_flags_an_unavailable_device(capsys, monkeypatch):
    monkeypatch.setenv("LMLIB_DEVICE", "tpu")
    main(["doctor"])
    assert "device: device must be" in capsys.readouterr().out


def test_usage_error_exits_2():
    result = subprocess.run([sys.executable, "-m", "coursekit", "heal"], capture_output=True, text=True)
    assert result.returncode == 2 and "usage" in result.stderr


def test_doctor_says_whether_widgets_are_interactive(capsys, monkeypatch):
    monkeypatch.setenv("LMLIB_WIDGETS", "static")
    main(["doctor"])
    assert "widgets in notebooks" in (out := capsys.readouterr().out) and "static figures" in out
    monkeypatch.setenv("LMLIB_WIDGETS", "live")
    main(["doctor"])
    assert "interactive" in capsys.readouterr().out
    monkeypatch.setenv("LMLIB_WIDGETS", "sometimes")
    main(["doctor"])
    assert "widgets in notebooks: LMLIB_WIDGETS must be" in capsys.readouterr().out


def test_doctor_checks_the_data_folder_and_the_corpora(capsys, monkeypatch, tmp_path):
    from lmlib.data import CORPORA

    monkeypatch.setenv("LMLIB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("LMLIB_DATA_DIR", str(tmp_path / "nowhere"))
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "nowhere (does not exist)" in out and "is not a folder" in out
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("LMLIB_DATA_DIR", str(data))
    names = CORPORA["names"].filename
    (data / names).write_text("abc")  # a 3-byte file is not the corpus
    main(["doctor"])
    out = capsys.readouterr().out
    assert "sha256 MISMATCH" in out and f"{data / names} is not the expected file" in out
