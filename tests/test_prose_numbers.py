"""Every number in a chapter's prose is printed by the chapter in full mode, or cited
(``coursekit.numbers``; the full-mode outputs are recorded in docs/outputs/)."""

from pathlib import Path

import nbformat
import pytest

from coursekit import numbers

CHAPTERS = sorted((Path(__file__).resolve().parent.parent / "chapters").glob("*.ipynb"))


@pytest.mark.consistency
@pytest.mark.parametrize("chapter", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_every_prose_number_is_printed_or_cited(chapter):
    problems = numbers.unbacked(chapter)
    assert not problems, "\n".join(problems)


def _notebook(markdown: str, code: str = "x = 1") -> nbformat.NotebookNode:
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(markdown),
                                           nbformat.v4.new_code_cell(code)])


def test_numbers_are_found_with_their_line():
    nb = _notebook("The GPT reaches 1.4841 on 111,540 characters.\nIt has 4 layers.")
    assert [(t, line[:10]) for _, t, line in numbers.prose_numbers(nb)] == \
        [("1.4841", "The GPT re"), ("111,540", "The GPT re")]


def test_a_number_is_backed_by_output_code_or_citation(tmp_path):
    path = tmp_path / "07_demo.ipynb"
    nbformat.write(_notebook("val 1.48 after 2,000 steps at lr 0.003; GPU 1.4697 "
                             "(nanoGPT README); width 6.1× here\n"
                             "and 2.5 nowhere", code="lr = 0.003"), path)
    (tmp_path / "07_demo.txt").write_text("# cell 1\nval 1.4841\nsteps 2000 speed-up 6.1\n")
    problems = numbers.unbacked(path, outputs_dir=tmp_path)
    assert len(problems) == 1 and "2.5" in problems[0], problems


def test_rounding_goes_one_way():
    assert numbers._backed_by("1.48", {"1.4841"})
    assert not numbers._backed_by("1.4841", {"1.48"})  # more digits than were printed
    assert not numbers._backed_by("1.49", {"1.4841"})


def test_text_outputs_keep_streams_and_results_but_not_figures():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")])
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="loss 1.23\n"),
                           nbformat.v4.new_output("display_data",
                                                  data={"text/plain": "<Figure size 700x360>"}),
                           nbformat.v4.new_output("execute_result", data={"text/plain": "42"},
                                                  execution_count=1)]
    assert numbers.text_outputs(nb) == "# cell 0\nloss 1.23\n42\n"


def test_a_chapter_without_recorded_outputs_is_reported(tmp_path):
    path = tmp_path / "99_x.ipynb"
    nbformat.write(_notebook("no numbers"), path)
    assert "no full-mode outputs" in numbers.unbacked(path, outputs_dir=tmp_path)[0]
