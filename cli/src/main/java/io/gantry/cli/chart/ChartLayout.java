package io.gantry.cli.chart;

import io.gantry.cli.chart.Drawing.Anchor;
import io.gantry.cli.chart.Drawing.Mark;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Lays a {@link Chart} out on a canvas: title, legend, axes with round-numbered ticks, grid lines, and the data.
 * The one place that decides how a chart looks; the renderers only paint the marks.
 */
public final class ChartLayout {

    /** Colours of the series, in order (repeating after the last). */
    private static final int[] PALETTE = {0x4E79A7, 0xF28E2B, 0xE15759, 0x59A14F, 0xB07AA1, 0x76B7B2, 0xEDC948,
        0xFF9DA7, 0x9C755F, 0xBAB0AC};
    private static final int INK = 0x222222;
    private static final int MUTED = 0x555555;
    private static final int GRID = 0xE3E3E3;
    private static final double TITLE_SIZE = 16;
    private static final double LABEL_SIZE = 12;
    private static final double TICK_SIZE = 11;
    private static final double VALUE_SIZE = 10;
    /** Ticks an axis aims at; round steps make it between about 3 and 8. */
    private static final int TARGET_TICKS = 5;

    private final int width;
    private final int height;
    private final double left = 76;
    private final double right;
    private final double top = 66;
    private final double bottom;
    private final List<Mark> marks = new ArrayList<>();

    private ChartLayout(int width, int height) {
        this.width = width;
        this.height = height;
        this.right = width - 24;
        this.bottom = height - 54;
    }

    /**
     * @param chart  what to show
     * @param width  canvas width in pixels (at least 200)
     * @param height canvas height in pixels (at least 160)
     * @return the chart laid out
     */
    public static Drawing draw(Chart chart, int width, int height) {
        if (width < 200 || height < 160) {
            throw new IllegalArgumentException("A chart needs at least 200 x 160 pixels, got " + width + " x " + height);
        }
        ChartLayout layout = new ChartLayout(width, height);
        layout.text(width / 2.0, 26, chart.title(), TITLE_SIZE, Anchor.MIDDLE, true, false, INK);
        layout.legend(chart.seriesNames());
        switch (chart) {
            case Chart.LineChart line -> layout.lines(line);
            case Chart.BarChart bars -> layout.bars(bars);
        }
        return new Drawing(width, height, layout.marks);
    }

    /** @return the colour of the series at {@code index} */
    public static int color(int index) {
        return PALETTE[index % PALETTE.length];
    }

    private void legend(List<String> names) {
        double swatch = 10;
        double gap = 18;
        double total = 0;
        for (String name : names) {
            total += swatch + 5 + textWidth(name, LABEL_SIZE) + gap;
        }
        double x = Math.max(left, (width - (total - gap)) / 2);
        for (int i = 0; i < names.size(); i++) {
            marks.add(new Drawing.Rect(x, 42, swatch, swatch, color(i)));
            text(x + swatch + 5, 51, names.get(i), LABEL_SIZE, Anchor.START, false, false, INK);
            x += swatch + 5 + textWidth(names.get(i), LABEL_SIZE) + gap;
        }
    }

    private void lines(Chart.LineChart chart) {
        double dataX = 0;
        double dataY = 0;
        for (Chart.Series series : chart.series()) {
            dataX = Math.max(dataX, max(series.xs()));
            dataY = Math.max(dataY, max(series.ys()));
        }
        Axis x = Axis.fitting(dataX);
        Axis y = chart.yMax() > 0 ? Axis.upTo(chart.yMax()) : Axis.fitting(dataY);
        yAxis(y, chart.yLabel());
        for (double tick = 0; tick <= x.max() + x.step() / 2; tick += x.step()) {
            double at = left + tick / x.max() * (right - left);
            marks.add(new Drawing.Line(at, bottom, at, bottom + 4, MUTED, 1));
            text(at, bottom + 17, x.label(tick), TICK_SIZE, Anchor.MIDDLE, false, false, MUTED);
        }
        text((left + right) / 2, height - 12, chart.xLabel(), LABEL_SIZE, Anchor.MIDDLE, false, false, INK);
        for (int s = 0; s < chart.series().size(); s++) {
            double[] xs = chart.series().get(s).xs();
            double[] ys = chart.series().get(s).ys();
            List<double[]> points = new ArrayList<>();
            for (int i = 0; i < xs.length; i++) {
                if (Double.isFinite(xs[i]) && Double.isFinite(ys[i])) {
                    points.add(new double[] {left + xs[i] / x.max() * (right - left), yPixel(Math.min(ys[i], y.max()), y)});
                }
            }
            if (!points.isEmpty()) {
                marks.add(new Drawing.Polyline(points.stream().mapToDouble(p -> p[0]).toArray(),
                        points.stream().mapToDouble(p -> p[1]).toArray(), color(s), 2));
            }
        }
        axisLines();
    }

    private void bars(Chart.BarChart chart) {
        double[][] values = chart.values();
        double dataY = 0;
        for (double[] row : values) {
            dataY = Math.max(dataY, max(row));
        }
        Axis y = Axis.fitting(dataY);
        yAxis(y, chart.yLabel());
        int groups = chart.groups().size();
        double groupWidth = (right - left) / Math.max(1, groups);
        double barWidth = groupWidth * 0.8 / Math.max(1, values.length);
        for (int g = 0; g < groups; g++) {
            double groupLeft = left + g * groupWidth;
            text(groupLeft + groupWidth / 2, bottom + 17, chart.groups().get(g), LABEL_SIZE, Anchor.MIDDLE, false,
                    false, INK);
            for (int s = 0; s < values.length; s++) {
                double value = values[s][g];
                if (!Double.isFinite(value)) {
                    continue;
                }
                double x = groupLeft + groupWidth * 0.1 + s * barWidth;
                double top = yPixel(value, y);
                marks.add(new Drawing.Rect(x + barWidth * 0.05, top, barWidth * 0.9, bottom - top, color(s)));
                text(x + barWidth / 2, top - 4, Axis.value(value), VALUE_SIZE, Anchor.MIDDLE, false, false, INK);
            }
        }
        axisLines();
    }

    private void yAxis(Axis y, String label) {
        for (double tick = 0; tick <= y.max() + y.step() / 2; tick += y.step()) {
            double at = yPixel(tick, y);
            marks.add(new Drawing.Line(left, at, right, at, GRID, 1));
            text(left - 7, at + 4, y.label(tick), TICK_SIZE, Anchor.END, false, false, MUTED);
        }
        text(18, (top + bottom) / 2, label, LABEL_SIZE, Anchor.MIDDLE, false, true, INK);
    }

    private void axisLines() {
        marks.add(new Drawing.Line(left, bottom, right, bottom, INK, 1));
        marks.add(new Drawing.Line(left, top, left, bottom, INK, 1));
    }

    private double yPixel(double value, Axis y) {
        return bottom - value / y.max() * (bottom - top);
    }

    private void text(double x, double y, String text, double size, Anchor anchor, boolean bold, boolean vertical,
            int color) {
        marks.add(new Drawing.Text(x, y, text, size, anchor, bold, vertical, color));
    }

    /** An estimate (the renderers' fonts differ a little): legends only need to not overlap. */
    private static double textWidth(String text, double size) {
        return text.length() * size * 0.6;
    }

    private static double max(double[] values) {
        double max = 0;
        for (double value : values) {
            if (Double.isFinite(value)) {
                max = Math.max(max, value);
            }
        }
        return max;
    }

    /**
     * An axis from 0 to {@code max} with ticks every {@code step}.
     *
     * @param max  the top of the axis, a multiple of the step
     * @param step the distance between ticks: 1, 2 or 5 times a power of ten
     */
    record Axis(double max, double step) {

        /** @return an axis with round ticks whose top is at or just above {@code dataMax} (1 when nothing is above 0) */
        static Axis fitting(double dataMax) {
            double top = dataMax > 0 ? dataMax : 1;
            double step = roundStep(top / TARGET_TICKS);
            return new Axis(Math.ceil(top / step - 1e-9) * step, step);
        }

        /** @return an axis whose top is exactly {@code max} */
        static Axis upTo(double max) {
            return new Axis(max, roundStep(max / TARGET_TICKS));
        }

        private static double roundStep(double raw) {
            double magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
            double fraction = raw / magnitude;
            return (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * magnitude;
        }

        /** @return a tick's label, with as many decimals as the step needs */
        String label(double tick) {
            int decimals = Math.max(0, (int) Math.ceil(-Math.log10(step) - 1e-9));
            return String.format(Locale.ROOT, "%." + decimals + "f", tick);
        }

        /** @return a value with three significant digits (more before the point when it is large) */
        static String value(double value) {
            double magnitude = Math.abs(value);
            return String.format(Locale.ROOT, magnitude >= 100 ? "%.0f" : magnitude >= 10 ? "%.1f" : "%.2f", value);
        }
    }
}
