"""Print where the ready-made example descriptions are installed."""

from . import EXAMPLES, example_path

for name in EXAMPLES:
    print(f"{name}: {example_path(name)}")
