package io.gantry.cli.chart;

import org.junit.jupiter.api.Test;

import java.awt.image.BufferedImage;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** One layout, two renderers: the SVG and the PNG paint the same marks. */
class ChartTest {

    private static final Chart.BarChart BARS = new Chart.BarChart("Throughput <tok/s>", "tokens per second",
            List.of("output"), List.of("continuous", "static"), new double[][] {{200}, {100}});

    @Test
    void axesEndOnRoundNumbersAtOrAboveTheData() {
        assertEquals(new ChartLayout.Axis(150, 50), ChartLayout.Axis.fitting(147));
        assertEquals(new ChartLayout.Axis(1500, 500), ChartLayout.Axis.fitting(1234));
        ChartLayout.Axis fraction = ChartLayout.Axis.fitting(0.93);
        assertEquals(1.0, fraction.max(), 1e-12);
        assertEquals(0.2, fraction.step(), 1e-12);
        assertEquals("0.4", fraction.label(0.4));
        assertEquals("100", ChartLayout.Axis.fitting(147).label(100));
        assertEquals(1.0, ChartLayout.Axis.fitting(0).max(), 1e-12, "an empty chart still has an axis");
        assertEquals(new ChartLayout.Axis(100, 20), ChartLayout.Axis.upTo(100));
        assertEquals("147", ChartLayout.Axis.value(147.2));
        assertEquals("4.82", ChartLayout.Axis.value(4.821));
    }

    @Test
    void barsAreAsHighAsTheirValues() {
        Drawing drawing = ChartLayout.draw(BARS, 400, 300);
        List<Drawing.Rect> bars = drawing.marks().stream().filter(m -> m instanceof Drawing.Rect r && r.width() > 10)
                .map(Drawing.Rect.class::cast).toList();
        assertEquals(2, bars.size());
        assertEquals(bars.get(0).height(), 2 * bars.get(1).height(), 1e-9, "200 is twice 100");
        assertEquals(ChartLayout.color(0), bars.get(0).color());
        assertEquals(ChartLayout.color(1), bars.get(1).color());
        assertTrue(drawing.marks().stream().anyMatch(m -> m instanceof Drawing.Text t && t.text().equals("200")),
                "bars carry their value");
    }

    @Test
    void lineChartsLeaveOutPointsThatAreNotNumbers() {
        Chart.LineChart chart = new Chart.LineChart("KV", "s", "%", 100, List.of(new Chart.Series("a",
                new double[] {0, 1, Double.NaN, 3}, new double[] {0, 50, 60, 100})));
        Drawing.Polyline line = ChartLayout.draw(chart, 400, 300).marks().stream()
                .filter(Drawing.Polyline.class::isInstance).map(Drawing.Polyline.class::cast).findFirst().orElseThrow();
        assertEquals(3, line.xs().length);
        assertTrue(line.ys()[2] < line.ys()[1] && line.ys()[1] < line.ys()[0], "higher values are higher up");
        assertThrows(IllegalArgumentException.class, () -> new Chart.Series("b", new double[1], new double[2]));
        assertThrows(IllegalArgumentException.class, () -> ChartLayout.draw(chart, 100, 100));
    }

    @Test
    void svgAndPngPaintTheSameMarks() {
        Drawing drawing = ChartLayout.draw(BARS, 400, 300);
        String svg = SvgRenderer.render(drawing, "Throughput");
        long texts = drawing.marks().stream().filter(Drawing.Text.class::isInstance).count();
        long rects = drawing.marks().stream().filter(Drawing.Rect.class::isInstance).count();
        long lines = drawing.marks().stream().filter(Drawing.Line.class::isInstance).count();
        assertEquals(texts, svg.split("<text ", -1).length - 1);
        assertEquals(rects + 1, svg.split("<rect ", -1).length - 1, "and the white background");
        assertEquals(lines, svg.split("<line ", -1).length - 1);
        assertTrue(svg.contains(">Throughput &lt;tok/s&gt;</text>"), "text is escaped");
        assertTrue(svg.contains("fill=\"#4e79a7\""), svg);

        BufferedImage png = PngRenderer.paint(drawing);
        assertEquals(800, png.getWidth());
        Drawing.Rect bar = drawing.marks().stream().filter(m -> m instanceof Drawing.Rect r && r.width() > 10)
                .map(Drawing.Rect.class::cast).findFirst().orElseThrow();
        int x = (int) ((bar.x() + bar.width() / 2) * 2);
        int y = (int) ((bar.y() + bar.height() / 2) * 2);
        assertEquals(ChartLayout.color(0), png.getRGB(x, y) & 0xFFFFFF, "the bar is painted where the SVG puts it");
        assertEquals(0xFFFFFF, png.getRGB(2, png.getHeight() - 2) & 0xFFFFFF, "on white");
    }
}
