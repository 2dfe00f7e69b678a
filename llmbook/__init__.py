"""llmbook: the companion package of "LLMs from Scratch, by the Numbers".

One module per idea. Each module is built first in the chapter that teaches it (its docstring
names the chapter) and then imported by the chapters after it; the chapter asserts that its
hand-built cells and the package agree, so the two cannot drift apart.
"""

__version__ = "0.1.0"
