"""Pictures for people, drawn with PIL: coloured label maps, class legends, clip montages and a
confusion-matrix heat map (used by ``tools/browse_dataset.py`` and
``tools/confusion_matrix.py``)."""
from typing import List, Optional, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = ['colour_labels', 'legend_image', 'clip_montage', 'confusion_image']

VOID_COLOUR = (40, 40, 40)
_ROW = 16


def _font() -> ImageFont.ImageFont:
    return ImageFont.load_default()


def colour_labels(labels: np.ndarray, palette: Sequence[Sequence[int]],
                  ignore_index: int = 255) -> np.ndarray:
    """(H, W) labels -> (H, W, 3) uint8 RGB in ``palette`` colours; ``ignore_index`` and values
    without a colour are dark grey."""
    table = np.tile(np.asarray(VOID_COLOUR, np.uint8), (256, 1))
    table[:len(palette)] = np.asarray(palette, np.uint8)
    table[ignore_index] = VOID_COLOUR
    return table[np.asarray(labels).astype(np.uint8)]


def legend_image(classes: Sequence[str], palette: Sequence[Sequence[int]], ids: Sequence[int], *,
                 width: int = 240, void: bool = True) -> Image.Image:
    """A white panel listing ``ids`` as colour swatch + ``id name`` (and the void colour)."""
    entries = ([(palette[i], f'{i} {classes[i]}') for i in ids]
               + ([(VOID_COLOUR, 'void / ignored')] if void else []))
    image = Image.new('RGB', (width, _ROW * (len(entries) + 1) + 4), 'white')
    draw = ImageDraw.Draw(image)
    draw.text((4, 2), 'classes', fill='black', font=_font())
    for row, (colour, text) in enumerate(entries, start=1):
        y = 2 + row * _ROW
        draw.rectangle([4, y + 1, 18, y + 13], fill=tuple(int(c) for c in colour), outline='black')
        draw.text((24, y + 1), text, fill='black', font=_font())
    return image


def clip_montage(frames: Sequence[np.ndarray], masks: Sequence[np.ndarray], *,
                 classes: Sequence[str], palette: Sequence[Sequence[int]], title: str = '',
                 ignore_index: int = 255) -> Image.Image:
    """One row per clip frame: frame (RGB uint8) | its coloured mask; a title on top and a legend
    of the classes present on the right."""
    height, width = frames[0].shape[:2]
    present = sorted({int(v) for m in masks for v in np.unique(m) if int(v) < len(classes)})
    legend = legend_image(classes, palette, present)
    panel_w = 2 * width + 12
    title_h = _ROW + 4
    rows_h = len(frames) * (height + 4)
    image = Image.new('RGB', (panel_w + legend.width,
                              max(title_h + rows_h, legend.height + title_h)), 'white')
    draw = ImageDraw.Draw(image)
    draw.text((4, 2), title, fill='black', font=_font())
    for t, (frame, mask) in enumerate(zip(frames, masks)):
        y = title_h + t * (height + 4)
        image.paste(Image.fromarray(np.ascontiguousarray(frame)), (4, y))
        image.paste(Image.fromarray(colour_labels(mask, palette, ignore_index)), (8 + width, y))
    image.paste(legend, (panel_w, title_h))
    return image


def confusion_image(matrix: np.ndarray, classes: Sequence[str], *, title: str = '',
                    cell: Optional[int] = None, max_classes: Optional[int] = None) -> Image.Image:
    """Heat map of a confusion matrix (rows: ground truth, columns: prediction), each row
    normalised to sum 1; class names on both axes, the percentage in each cell when it fits.
    ``max_classes`` keeps the classes with the most ground-truth pixels."""
    matrix = np.asarray(matrix, dtype=np.float64)
    keep: List[int] = list(range(len(classes)))
    if max_classes and len(keep) > max_classes:
        keep = sorted(np.argsort(-matrix.sum(1), kind='stable')[:max_classes].tolist())
    sub = matrix[np.ix_(keep, keep)]
    totals = sub.sum(1, keepdims=True)
    norm = np.divide(sub, totals, out=np.zeros_like(sub), where=totals > 0)
    names = [f'{i} {classes[i]}'[:24] for i in keep]
    n = len(keep)
    cell = cell or (36 if n <= 20 else 14)
    label_w = 8 + 6 * max(len(s) for s in names)
    top = 2 * _ROW + label_w
    title = title or 'confusion matrix, each row normalised to 100%'
    width = max(label_w + n * cell + 16, 8 + 6 * len(title), 260)
    image = Image.new('RGB', (width, top + n * cell + 2 * _ROW), 'white')
    draw = ImageDraw.Draw(image)
    font = _font()
    draw.text((4, 2), title, fill='black', font=font)
    for i in range(n):
        for j in range(n):
            value = norm[i, j]
            shade = int(255 - 200 * value)
            colour = (shade, shade, 255) if i != j else (shade, 255, shade)
            x, y = label_w + j * cell, top + i * cell
            draw.rectangle([x, y, x + cell - 1, y + cell - 1], fill=colour, outline=(220, 220, 220))
            if cell >= 30 and value > 0:
                draw.text((x + 3, y + cell // 2 - 5), f'{100 * value:.0f}%',
                          fill='black' if value < 0.6 else 'white', font=font)
        draw.text((4, top + i * cell + cell // 2 - 5), names[i], fill='black', font=font)
    column_labels = Image.new('RGB', (label_w, n * cell), 'white')
    cdraw = ImageDraw.Draw(column_labels)
    for j in range(n):
        cdraw.text((4, j * cell + cell // 2 - 5), names[j], fill='black', font=font)
    image.paste(column_labels.rotate(90, expand=True), (label_w, 2 * _ROW - 4))
    draw.text((4, top + n * cell + 4), 'ground truth (rows) / prediction (columns)', fill='black',
              font=font)
    return image
