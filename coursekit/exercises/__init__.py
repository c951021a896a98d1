"""Exercise tools: generate student notebooks from solutions, and grade them.

    python -m coursekit.exercises generate            # solutions/ -> exercises/
    python -m coursekit.exercises grade PATH... [--roster FILE] [--csv FILE] [-j N]
    python -m coursekit.exercises handout [--ref TAG]  # build/handout.zip for students
    python -m coursekit.exercises nbgrader-source COURSE_DIR   # solutions/ -> COURSE_DIR/source/
    python -m coursekit.exercises nbgrader-check COURSE_DIR/submitted
    python -m coursekit.exercises demo-class OUT      # a simulated class to try the grader on

Solution notebooks mark what students write between ``### BEGIN SOLUTION`` and
``### END SOLUTION`` (nbgrader's markers). Each exercise has a *check cell*, a code cell
tagged ``check`` whose first line is ``# Check: <exercise name>``; it fails on the stub and
passes on the solution.
"""

from .generate import MarkerError, clear_solutions, generate_folder, generate_notebook
from .grade import Row, grade_notebook, grade_submission
from .nbgrader_source import to_nbgrader_source, write_source_folder

__all__ = ["MarkerError", "clear_solutions", "generate_notebook", "generate_folder",
           "Row", "grade_notebook", "grade_submission", "to_nbgrader_source", "write_source_folder"]
