package io.gantry.cli.chart;

import java.util.List;

/**
 * A chart laid out in pixels: a few kinds of marks that any 2D toolkit can paint. Coordinates grow rightwards and
 * downwards from the top left corner; text is placed by its baseline.
 *
 * @param width  the canvas width
 * @param height the canvas height
 * @param marks  what to paint, in order
 */
public record Drawing(int width, int height, List<Mark> marks) {

    /** Copies the marks. */
    public Drawing {
        marks = List.copyOf(marks);
    }

    /** One thing to paint. Colours are 0xRRGGBB. */
    public sealed interface Mark {
    }

    /**
     * A straight line.
     *
     * @param x1     start x
     * @param y1     start y
     * @param x2     end x
     * @param y2     end y
     * @param color  its colour
     * @param stroke its width
     */
    public record Line(double x1, double y1, double x2, double y2, int color, double stroke) implements Mark {
    }

    /**
     * Connected straight lines through points.
     *
     * @param xs     x coordinates
     * @param ys     y coordinates, as many
     * @param color  its colour
     * @param stroke its width
     */
    public record Polyline(double[] xs, double[] ys, int color, double stroke) implements Mark {
        /** Copies the points. */
        public Polyline {
            xs = xs.clone();
            ys = ys.clone();
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
     * A filled rectangle.
     *
     * @param x      left
     * @param y      top
     * @param width  width
     * @param height height
     * @param color  fill colour
     */
    public record Rect(double x, double y, double width, double height, int color) implements Mark {
    }

    /**
     * A line of text.
     *
     * @param x        anchor x
     * @param y        baseline y (for vertical text: the x it reads along, turned a quarter anticlockwise)
     * @param text     the text
     * @param size     font size in pixels
     * @param anchor   which point of the text lies at x
     * @param bold     bold or regular
     * @param vertical turned a quarter anticlockwise about (x, y), reading upwards
     * @param color    its colour
     */
    public record Text(double x, double y, String text, double size, Anchor anchor, boolean bold, boolean vertical,
            int color) implements Mark {
    }

    /** Where a text's anchor point lies along it. */
    public enum Anchor {
        /** At its start. */
        START,
        /** In its middle. */
        MIDDLE,
        /** At its end. */
        END
    }
}
