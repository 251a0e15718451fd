"""Drawing primitives for the report's figures, on PIL alone (matplotlib is not a dependency).

Figures are drawn at ``SCALE`` times their logical size so that they stay crisp when a
browser shows them at the logical size; every length below is logical pixels.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

SCALE = 2
# Okabe and Ito's colour-blind-safe palette (yellow left out: it vanishes on white).
PALETTE: tuple[str, ...] = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000",
                            "#7F7F7F")
DASHES: tuple[tuple[int, ...], ...] = ((), (7, 4), (2, 3), (8, 3, 2, 3))
MARKERS: tuple[str, ...] = ("circle", "square", "triangle", "diamond")
INK, GRID, MUTED = "#222222", "#E3E3E3", "#555555"
# Pillow's default font has no Greek or maths glyphs: spell them out.
_SPELLED = str.maketrans({"ε": "eps", "∞": "-inf", "≤": "<=", "·": "-", "×": "x"})


def plain(text: str) -> str:
    """``text`` with the characters the default font cannot draw spelled out (ε -> eps)."""
    return text.translate(_SPELLED)


@lru_cache(maxsize=8)
def font(size: float) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's default font at ``size`` logical pixels (scalable where FreeType is built in)."""
    try:
        return ImageFont.load_default(size=round(size * SCALE))
    except (TypeError, ImportError):  # Pillow < 10.1 or no FreeType: the fixed bitmap font
        return ImageFont.load_default()


class Canvas:
    """A white RGB image addressed in logical pixels."""

    def __init__(self, width: float, height: float) -> None:
        self.width, self.height = width, height
        self.image = Image.new("RGB", (round(width * SCALE), round(height * SCALE)), "white")
        self.draw = ImageDraw.Draw(self.image)

    @staticmethod
    def _s(value: float) -> float:
        return value * SCALE

    def text_size(self, text: str, size: float = 13) -> tuple[float, float]:
        """Width and height of ``text`` in logical pixels."""
        left, top, right, bottom = self.draw.textbbox((0, 0), plain(text), font=font(size))
        return (right - left) / SCALE, (bottom - top) / SCALE

    def text(self, xy: tuple[float, float], text: str, *, size: float = 13, fill: str = INK,
             anchor: str = "la") -> None:
        """Draw ``text`` at ``xy``; ``anchor`` is PIL's (``la`` left-top, ``mm`` centre, ``rm`` right-middle...)."""
        self.draw.text((self._s(xy[0]), self._s(xy[1])), plain(text), font=font(size), fill=fill, anchor=anchor)

    def vertical_text(self, centre: tuple[float, float], text: str, *, size: float = 13, fill: str = INK) -> None:
        """Draw ``text`` rotated 90 degrees counter-clockwise, centred at ``centre``."""
        w, h = self.text_size(text, size)
        strip = Image.new("RGBA", (round((w + 8) * SCALE), round((h + 8) * SCALE)), (255, 255, 255, 0))
        ImageDraw.Draw(strip).text((strip.width / 2, strip.height / 2), plain(text), font=font(size), fill=fill,
                                   anchor="mm")
        strip = strip.rotate(90, expand=True)
        self.image.paste(strip, (round(self._s(centre[0]) - strip.width / 2),
                                 round(self._s(centre[1]) - strip.height / 2)), strip)

    def line(self, points: Sequence[tuple[float, float]], *, fill: str = INK, width: float = 1,
             dash: Sequence[int] = ()) -> None:
        """A polyline, dashed when ``dash`` (on, off, on, off... lengths) is given."""
        pts = [(self._s(x), self._s(y)) for x, y in points]
        if not dash:
            self.draw.line(pts, fill=fill, width=max(1, round(self._s(width))), joint="curve")
            return
        pattern = [float(d * SCALE) for d in dash]
        index, left, on = 0, pattern[0], True
        for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
            length = math.hypot(x1 - x0, y1 - y0)
            done = 0.0
            while done < length - 1e-9:
                step = min(left, length - done)
                if on:
                    a, b = done / length, (done + step) / length
                    self.draw.line([(x0 + (x1 - x0) * a, y0 + (y1 - y0) * a), (x0 + (x1 - x0) * b, y0 + (y1 - y0) * b)],
                                   fill=fill, width=max(1, round(self._s(width))))
                done += step
                left -= step
                if left <= 1e-9:
                    index = (index + 1) % len(pattern)
                    left, on = pattern[index], not on

    def rect(self, box: tuple[float, float, float, float], *, fill: str | None = None,
             outline: str | None = None, width: float = 1) -> None:
        """A rectangle ``(x0, y0, x1, y1)``."""
        x0, y0, x1, y1 = box
        self.draw.rectangle((self._s(x0), self._s(y0), self._s(x1), self._s(y1)), fill=fill, outline=outline,
                            width=max(1, round(self._s(width))) if outline else 0)

    def marker(self, xy: tuple[float, float], shape: str, *, fill: str, size: float = 4.5) -> None:
        """A data point: ``circle``, ``square``, ``triangle`` or ``diamond``, white-edged."""
        x, y, r = self._s(xy[0]), self._s(xy[1]), self._s(size)
        edge = max(1, round(self._s(1)))
        if shape == "circle":
            self.draw.ellipse((x - r, y - r, x + r, y + r), fill=fill, outline="white", width=edge)
        elif shape == "square":
            r *= 0.9
            self.draw.rectangle((x - r, y - r, x + r, y + r), fill=fill, outline="white", width=edge)
        elif shape == "triangle":
            self.draw.polygon([(x, y - r * 1.15), (x + r * 1.1, y + r * 0.8), (x - r * 1.1, y + r * 0.8)],
                              fill=fill, outline="white", width=edge)
        else:
            self.draw.polygon([(x, y - r * 1.2), (x + r, y), (x, y + r * 1.2), (x - r, y)], fill=fill,
                              outline="white", width=edge)

    def png(self) -> bytes:
        """The image as PNG bytes."""
        buffer = io.BytesIO()
        self.image.save(buffer, format="PNG", optimize=True)
        return buffer.getvalue()


def shorten(text: str, width: float, canvas: Canvas, *, size: float = 13) -> str:
    """``text``, cut and ended with ``...`` where it is wider than ``width``."""
    if canvas.text_size(text, size)[0] <= width:
        return text
    while text and canvas.text_size(text + "...", size)[0] > width:
        text = text[:-1]
    return text + "..."


def wrap(text: str, width: float, canvas: Canvas, *, size: float = 13, lines_at_most: int = 3) -> list[str]:
    """Split ``text`` at spaces into lines no wider than ``width``; a word too long is shortened."""
    lines: list[str] = []
    for word in text.split():
        if lines and canvas.text_size(f"{lines[-1]} {word}", size)[0] <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    if len(lines) > lines_at_most:
        lines = lines[:lines_at_most - 1] + [" ".join(lines[lines_at_most - 1:])]
    return [shorten(line, width, canvas, size=size) for line in lines] or [""]


def y_axis(canvas: Canvas, box: tuple[float, float, float, float], *, label: str,
           ticks: Sequence[float] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)) -> None:
    """Grid lines, tick labels and a rotated label for a 0..1 value axis in ``box`` (plot area)."""
    x0, y0, x1, y1 = box
    for t in ticks:
        y = y1 - (y1 - y0) * t
        canvas.line([(x0, y), (x1, y)], fill=GRID, width=1)
        canvas.line([(x0 - 4, y), (x0, y)], fill=INK, width=1)
        canvas.text((x0 - 7, y), f"{t:.1f}", size=12, fill=MUTED, anchor="rm")
    canvas.vertical_text((x0 - 44, (y0 + y1) / 2), label, size=13)
    canvas.line([(x0, y0), (x0, y1), (x1, y1)], fill=INK, width=1)


def lerp_colour(stops: Sequence[str], t: float) -> str:
    """The colour at ``t`` in [0, 1] along a ramp through ``stops`` (hex colours)."""
    t = min(max(t, 0.0), 1.0) * (len(stops) - 1)
    i = min(int(t), len(stops) - 2)
    a, b = stops[i], stops[i + 1]
    f = t - i
    rgb = [round(int(a[k:k + 2], 16) * (1 - f) + int(b[k:k + 2], 16) * f) for k in (1, 3, 5)]
    return "#" + "".join(f"{c:02x}" for c in rgb)


def luminance(colour: str) -> float:
    """Relative brightness (0 dark .. 1 light) of a hex colour, to pick text that stays legible on it."""
    r, g, b = (int(colour[k:k + 2], 16) / 255 for k in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b
