"""Sphinx configuration of the course website (built by ``python -m coursekit.site``).

Sphinx + MyST-NB + sphinx-book-theme: the same stack as Jupyter Book 1.x, used directly
(see docs/site.md for why). ``coursekit.site`` lays the pages out in a staging folder
(``build/site-src/<mode>``) and passes that folder, the execution cache and the mode in
``confoverrides``; this file holds what does not change between builds.
"""

import os

project = "From N-grams to GPT"
author = "the course authors"
copyright = "the course authors, MIT licence"

extensions = [
    "myst_nb",              # notebooks (executed, cached) and MyST markdown
    "sphinx_design",
    "sphinx_copybutton",
    "coursekit.site",       # widget + static twin, launch links, offline checks
]

# Pages: the staging folder holds index.md (which includes README.md), docs/*.md,
# chapters/*.ipynb and the generated lmlib pages; _notebooks/ (downloads) and _src/ (the
# lmlib files the pages include) are not pages.
root_doc = "index"
exclude_patterns = ["_build", "_notebooks/**", "_src/**", "README.md", "**.ipynb_checkpoints"]
suppress_warnings = ["myst.header"]  # README starts at level 1 then skips to 3 in places

# MyST
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist", "attrs_inline"]
myst_heading_anchors = 4      # README's [Results](#results) and docs/teaching.md's anchors

# Execution: jupyter-cache keeps each notebook's outputs keyed by a hash of its code, so a
# rebuild re-runs only the notebooks whose code changed. One cache per mode (fast/full):
# the mode is not part of the hash. The cache path is set by coursekit.site.
nb_execution_mode = "cache"
nb_execution_cache_path = os.environ.get("COURSEKIT_SITE_CACHE", "../site-cache")
nb_execution_timeout = 3600            # per cell; full mode trains for minutes
nb_execution_raise_on_error = True     # a failing chapter fails the build
nb_execution_in_temp = True            # files a chapter writes (runs/) stay out of the pages
nb_execution_show_tb = True
nb_merge_streams = True
nb_output_stderr = "remove-warn"       # warnings go to the build log, not the page

# Widgets: the page loads the widget manager and require.js from _static/vendor (copied
# from npm packages by coursekit.site), never from a CDN; see coursekit.site for anywidget.
nb_ipywidgets_js = {
    "vendor/require.js": {},
    "vendor/widgets-config.js": {},
    # a module it cannot find locally would be looked for under this (absent) folder of the
    # site, never on a CDN: the page then shows the widget's static twin
    "vendor/@jupyter-widgets/html-manager/dist/embed-amd.js": {"data-jupyter-widgets-cdn": "_static/vendor/npm/"},
}

# Math: MathJax 3 from _static/vendor/mathjax (fonts beside it), not from a CDN.
mathjax_path = "vendor/mathjax/tex-mml-chtml.js"
mathjax3_config = {"tex": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]]},
                   "options": {"processHtmlClass": "tex2jax_process|mathjax_process|math|output_area"}}

# Theme
html_theme = "sphinx_book_theme"
html_title = "From N-grams to GPT"
# the staged copy of site/_static, with _static/vendor beside it
html_static_path = [os.environ.get("COURSEKIT_SITE_STATIC", "_static")]
html_css_files = ["course.css"]
html_js_files = ["course.js"]
html_last_updated_fmt = None
html_copy_source = False
html_show_sourcelink = False
html_theme_options = {
    "repository_branch": "main",
    "path_to_docs": "",
    "use_repository_button": True,
    "use_issues_button": False,
    "use_download_button": False,   # the launch box under each title has the downloads
    "home_page_in_toc": True,
    "show_toc_level": 2,
    "navigation_with_keys": False,
    # no icon links or analytics that would fetch from elsewhere
    "launch_buttons": {"notebook_interface": "jupyterlab"},
    "repository_url": os.environ.get("COURSEKIT_SITE_REPO",
                                     "https://github.com/ngrams-to-gpt/ngrams-to-gpt"),
}
html_context = {"default_mode": "light"}
