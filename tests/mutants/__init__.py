"""Plausible wrong answers ("mutants") for every exercise, one module per solutions notebook.

``tests/mutants/NN_topic.py`` defines ``MUTANTS``, a list of :class:`Mutant`. Each one is a
solution cell of ``solutions/NN_topic.ipynb`` rewritten into a mistake a learner could make;
``tests/test_exercise_mutants.py`` runs it, then the exercise's check cells, in one kernel
per notebook, and requires that a check fails with a message that contains ``expect``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Mutant:
    """A wrong answer to one exercise.

    name:    what the mistake is ("off by one", "no max-subtraction", ...)
    cell:    the id of the solution cell it rewrites (the cell with ``### BEGIN SOLUTION``)
    replace: ``(old, new)`` text substitutions applied to that cell's source in order; each
             ``old`` must occur in it
    source:  or the whole new source of the cell (instead of ``replace``)
    expect:  a piece of the failing check's message (case-insensitive) that points at the
             mistake, e.g. ``"gradient"`` or ``"carry the state"``
    """

    name: str
    cell: str
    expect: str
    replace: tuple[tuple[str, str], ...] = field(default=())
    source: str | None = None

    def apply(self, original: str) -> str:
        if self.source is not None:
            return self.source
        text = original
        for old, new in self.replace:
            if old not in text:
                raise ValueError(f"mutant {self.name!r}: {old!r} is not in cell {self.cell}")
            text = text.replace(old, new)
        if text == original:
            raise ValueError(f"mutant {self.name!r} changes nothing in cell {self.cell}")
        return text
