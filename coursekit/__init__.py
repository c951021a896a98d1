"""coursekit: the course's tooling, kept apart from the teaching library ``lmlib``.

A learner never needs to open this package. It holds what teachers, authors and CI use:

    exercises/   generate exercises/ from solutions/, grade student notebooks, the handout,
                 nbgrader source
    bench/       the benchmarks behind the README's numbers (``make bench``)
    figures.py   the README's pictures (``make figures``)
    timing.py    measured notebook run times (``make times``)
    colab.py     the Colab badge and install cells (``make sync``)
    lab.py       JupyterLab with the course's settings (``make lab``)
    browser.py   headless Chromium for the browser tests and screenshots
    doctor.py    ``python -m coursekit.doctor``: is this environment ready for the course?
    site.py      the course as a website (``make site``; Sphinx + MyST-NB, see docs/site.md)

Notebooks import only ``lmlib``.
"""
