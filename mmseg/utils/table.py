"""Plain-text tables (Markdown-compatible) for every table the tools and the evaluator print."""
from typing import List, Sequence

__all__ = ['text_table']


def text_table(header: Sequence[str], rows: List[Sequence[str]]) -> str:
    """A plain-text table with a header rule (Markdown-compatible)."""
    widths = [max(len(h), *(len(str(row[i])) for row in rows)) for i, h in enumerate(header)]
    out = ['| ' + ' | '.join(h.ljust(w) for h, w in zip(header, widths)) + ' |',
           '|' + '|'.join('-' * (w + 2) for w in widths) + '|']
    out += ['| ' + ' | '.join(str(c).ljust(w) for c, w in zip(row, widths)) + ' |' for row in rows]
    return '\n'.join(out)
