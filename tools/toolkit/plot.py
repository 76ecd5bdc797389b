"""A small line-chart helper on PIL (axes, ticks, grid, legend, several series); no matplotlib."""
import math
from typing import List, Sequence, Tuple

from PIL import Image, ImageDraw, ImageFont

__all__ = ['Series', 'nice_ticks', 'line_chart', 'stack_vertically']

Series = Tuple[str, Sequence[float], Sequence[float]]  # (label, xs, ys)

PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]
_MARGIN = dict(left=72, right=16, top=30, bottom=44)


def nice_ticks(low: float, high: float, max_ticks: int = 6) -> List[float]:
    """Round tick values (steps of 1, 2 or 5 times a power of ten) covering [low, high]."""
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f'tick range must be finite, got [{low}, {high}]')
    if high <= low:
        pad = abs(low) * 0.1 or 1.0
        low, high = low - pad, high + pad
    raw = (high - low) / max(max_ticks - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    count = int(math.ceil((high - first) / step - 1e-9)) + 1
    return [round(first + i * step, 12) for i in range(count)]


def _label(value: float) -> str:
    return f'{value:.4g}'


def line_chart(series: Sequence[Series], *, size: Tuple[int, int] = (800, 400), title: str = '',
               xlabel: str = '', ylabel: str = '') -> Image.Image:
    """Draw the series as lines (points with a non-finite y break the line) on one set of axes."""
    points = [(x, y) for _, xs, ys in series for x, y in zip(xs, ys) if math.isfinite(y)]
    if not points:
        raise ValueError(f'nothing to plot for {title or "this chart"}: no finite values')
    width, height = size
    image = Image.new('RGB', size, 'white')
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    x_ticks = nice_ticks(min(p[0] for p in points), max(p[0] for p in points))
    y_ticks = nice_ticks(min(p[1] for p in points), max(p[1] for p in points))
    left, top = _MARGIN['left'], _MARGIN['top']
    right, bottom = width - _MARGIN['right'], height - _MARGIN['bottom']

    def to_pixel(x: float, y: float) -> Tuple[float, float]:
        px = left + (x - x_ticks[0]) / (x_ticks[-1] - x_ticks[0]) * (right - left)
        py = bottom - (y - y_ticks[0]) / (y_ticks[-1] - y_ticks[0]) * (bottom - top)
        return px, py

    for x in x_ticks:
        px, _ = to_pixel(x, y_ticks[0])
        draw.line([(px, top), (px, bottom)], fill=(230, 230, 230))
        draw.line([(px, bottom), (px, bottom + 4)], fill='black')
        draw.text((px, bottom + 6), _label(x), fill='black', font=font, anchor='ma')
    for y in y_ticks:
        _, py = to_pixel(x_ticks[0], y)
        draw.line([(left, py), (right, py)], fill=(230, 230, 230))
        draw.line([(left - 4, py), (left, py)], fill='black')
        draw.text((left - 6, py), _label(y), fill='black', font=font, anchor='rm')
    draw.rectangle([left, top, right, bottom], outline='black')
    draw.text(((left + right) / 2, height - 4), xlabel, fill='black', font=font, anchor='md')
    draw.text((4, top - 6), ylabel, fill='black', font=font, anchor='ld')
    draw.text(((left + right) / 2, 4), title, fill='black', font=font, anchor='ma')

    for index, (label, xs, ys) in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        segment: List[Tuple[float, float]] = []
        for x, y in list(zip(xs, ys)) + [(math.nan, math.nan)]:
            if math.isfinite(y):
                segment.append(to_pixel(x, y))
                continue
            if len(segment) > 1:
                draw.line(segment, fill=colour, width=2)
            elif segment:
                px, py = segment[0]
                draw.ellipse([px - 2, py - 2, px + 2, py + 2], fill=colour)
            segment = []
        text_y = top + 6 + 14 * index  # legend, top right inside the axes
        text_w = draw.textlength(label, font=font)
        draw.rectangle([right - text_w - 34, text_y, right - 6, text_y + 12], fill='white')
        draw.line([(right - text_w - 30, text_y + 6), (right - text_w - 14, text_y + 6)],
                  fill=colour, width=3)
        draw.text((right - 8, text_y + 6), label, fill='black', font=font, anchor='rm')
    return image


def stack_vertically(images: Sequence[Image.Image]) -> Image.Image:
    """Put images of the same width one below the other."""
    width = max(image.width for image in images)
    out = Image.new('RGB', (width, sum(image.height for image in images)), 'white')
    offset = 0
    for image in images:
        out.paste(image, (0, offset))
        offset += image.height
    return out
