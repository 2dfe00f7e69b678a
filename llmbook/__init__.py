"""llmbook: the companion package of "LLMs from Scratch, by the Numbers".

One module per idea. Each module is built first in the chapter that teaches it (its docstring
names the chapter) and then imported by the chapters after it; the chapter asserts that its
hand-built cells and the package agree, so the two cannot drift apart.
"""

from llmbook.environment import environment_report, versions

__version__ = "0.2.0"
__all__ = ["__version__", "environment_report", "versions"]
