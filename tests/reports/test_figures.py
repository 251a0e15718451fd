"""The report's matplotlib charts: their data, error bars and PNG size, and no change to pyplot's state."""

from __future__ import annotations

import io
import math

import matplotlib
import matplotlib.pyplot as plt
from matplotlib.container import BarContainer, ErrorbarContainer
from PIL import Image

from fgav.reports.figures import SCALE, Series, bar_figure, heat_figure, line_figure, png


def test_line_chart_plots_each_series_with_its_intervals() -> None:
    figure = line_figure(
        title="t", x_values=[1 / 255, 4 / 255, 8 / 255], x_labels=["1/255", "4/255", "8/255"], x_label="ε",
        y_label="ASR",
        series=[Series("depth, none", [0.1, 0.4, 0.8], [(0.05, 0.2), (0.3, 0.5), (0.7, 0.9)], colour=0, style=0),
                Series("depth, sfa", [0.2, None, 0.9], [(0.1, 0.3), None, (0.8, 0.95)], colour=0, style=1)])
    (axes,) = [a for a in figure.axes if a.get_label() != "<colorbar>"]
    bars = [c for c in axes.containers if isinstance(c, ErrorbarContainer)]
    assert len(bars) == 2
    data_line, _, (segments,) = bars[0].lines
    assert list(data_line.get_ydata()) == [0.1, 0.4, 0.8]
    # Each error bar spans its Wilson interval.
    spans = [tuple(sorted(seg[:, 1])) for seg in segments.get_segments()]
    assert [tuple(round(v, 6) for v in s) for s in spans] == [(0.05, 0.2), (0.3, 0.5), (0.7, 0.9)]
    assert list(bars[1].lines[0].get_ydata()) == [0.2, 0.9], "a missing value is left out, not drawn as 0"
    assert [t.get_text() for t in axes.get_xticklabels()] == ["1/255", "4/255", "8/255"]
    assert [t.get_text() for t in axes.get_legend().get_texts()] == ["depth, none", "depth, sfa"]
    data = png(figure)
    width, height = Image.open(io.BytesIO(data)).size
    inches = figure.get_size_inches()
    assert (width, height) == (round(inches[0] * 100 * SCALE), round(inches[1] * 100 * SCALE))


def test_bar_chart_has_one_bar_per_part_and_augmenter_with_error_bars() -> None:
    figure = bar_figure(title="t", groups=["Depth Map", "Classification", "Illumination"], y_label="ASR",
                        bars=[("none", [0.1, 0.5, None], [(0.0, 0.2), (0.4, 0.6), None]),
                              ("sfa", [0.3, 0.7, 0.2], [(0.2, 0.4), (0.6, 0.8), (0.1, 0.3)])])
    axes = figure.axes[0]
    containers = [c for c in axes.containers if isinstance(c, BarContainer)]
    assert [len(c) for c in containers] == [3, 3]
    assert [round(b.get_height(), 6) for b in containers[1]] == [0.3, 0.7, 0.2]
    errors = [c for c in axes.containers if isinstance(c, ErrorbarContainer)]
    assert len(errors) == 2
    tops = sorted(round(max(seg[:, 1]), 6) for seg in errors[1].lines[2][0].get_segments())
    assert tops == [0.3, 0.4, 0.8]
    assert any(t.get_text() == "n/a" for t in axes.texts), "a missing value is marked"


def test_heat_map_holds_the_matrix_and_labels_each_cell() -> None:
    values = [[0.9, 0.8], [0.1, None]]
    figure = heat_figure(title="t", rows=["Original accuracy", "vgg13"], columns=[("target: a", "none"),
                                                                               ("target: a", "sfa")],
                         values=values, value_label="accuracy", separate_first_row=True)
    axes = figure.axes[0]
    array = axes.images[0].get_array()
    assert array[0, 0] == 0.9 and array[1, 0] == 0.1 and math.isnan(float(array.data[1, 1]))
    assert sorted(t.get_text() for t in axes.texts) == ["-", "0.10", "0.80", "0.90"]
    assert len(figure.axes) == 2  # the map and its colour bar


def test_drawing_leaves_the_users_matplotlib_state_alone() -> None:
    backend = matplotlib.get_backend()
    before = plt.get_fignums()
    png(line_figure(title="t", x_values=[0, 1], x_labels=["0", "1"], series=[Series("a", [0.1, 0.2])],
                    x_label="x", y_label="y"))
    assert plt.get_fignums() == before and matplotlib.get_backend() == backend
    assert matplotlib.colormaps["viridis"].get_bad()[3] == 0.0, "the registered colour map is not changed"
