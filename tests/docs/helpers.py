"""Reading the docs' commands: the fenced blocks of a Markdown text."""
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def bash_blocks(markdown: str) -> list[str]:
    """The fenced ```bash blocks of a Markdown text, in order."""
    return re.findall(r"^```bash\n(.*?)^```", markdown, re.S | re.M)
