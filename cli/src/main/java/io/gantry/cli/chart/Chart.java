package io.gantry.cli.chart;

import java.util.Arrays;
import java.util.List;

/**
 * What a chart shows, independent of how it is drawn: {@link ChartLayout} turns it into a {@link Drawing}, which
 * {@link SvgRenderer} and {@link PngRenderer} render alike.
 */
public sealed interface Chart {

    /** @return the heading drawn above the chart */
    String title();

    /** @return the names in the legend, in colour order */
    List<String> seriesNames();

    /**
     * Lines through points; both axes start at 0.
     *
     * @param title  the heading
     * @param xLabel the x axis' title
     * @param yLabel the y axis' title
     * @param yMax   the top of the y axis, or 0 to fit the data
     * @param series the lines, one colour each
     */
    record LineChart(String title, String xLabel, String yLabel, double yMax, List<Series> series) implements Chart {
        /** Copies the series. */
        public LineChart {
            series = List.copyOf(series);
        }

        @Override
        public List<String> seriesNames() {
            return series.stream().map(Series::name).toList();
        }
    }

    /**
     * One line of a {@link LineChart}: points in drawing order (points with a NaN coordinate are left out).
     *
     * @param name the legend entry
     * @param xs   x coordinates
     * @param ys   y coordinates, as many
     */
    record Series(String name, double[] xs, double[] ys) {
        /** Copies the points and checks they pair up. */
        public Series {
            xs = xs.clone();
            ys = ys.clone();
            if (xs.length != ys.length) {
                throw new IllegalArgumentException("A series needs as many x as y values: " + xs.length + " and "
                        + ys.length);
            }
        }

        @Override
        public double[] xs() {
            return xs.clone();
        }

        @Override
        public double[] ys() {
            return ys.clone();
        }
    }

    /**
     * Bars in groups: for every group (a category along the x axis) one bar per series, labelled with its value.
     * The y axis starts at 0; NaN values are drawn as no bar.
     *
     * @param title       the heading
     * @param yLabel      the y axis' title
     * @param groups      the categories along the x axis
     * @param seriesNames the legend entries, one colour each
     * @param values      {@code values[series][group]}
     */
    record BarChart(String title, String yLabel, List<String> groups, List<String> seriesNames, double[][] values)
            implements Chart {
        /** Copies the values and checks that there is one per series and group. */
        public BarChart {
            groups = List.copyOf(groups);
            seriesNames = List.copyOf(seriesNames);
            values = Arrays.stream(values).map(double[]::clone).toArray(double[][]::new);
            int columns = groups.size();
            if (values.length != seriesNames.size() || Arrays.stream(values).anyMatch(row -> row.length != columns)) {
                throw new IllegalArgumentException("A bar chart needs one value per series and group");
            }
        }

        @Override
        public double[][] values() {
            return Arrays.stream(values).map(double[]::clone).toArray(double[][]::new);
        }
    }
}
