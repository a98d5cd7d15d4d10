package io.gantry.cli.chart;

import java.util.Locale;

/** Writes a {@link Drawing} as an SVG element, to be inlined in HTML or saved as a {@code .svg} file. */
public final class SvgRenderer {

    private static final String FONT = "DejaVu Sans, Verdana, Helvetica, Arial, sans-serif";

    private SvgRenderer() {
    }

    /**
     * @param drawing what to render
     * @param title   the accessible name of the image (its {@code <title>})
     * @return one {@code <svg>} element
     */
    public static String render(Drawing drawing, String title) {
        StringBuilder svg = new StringBuilder();
        svg.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                + "viewBox=\"0 0 %d %d\" role=\"img\" font-family=\"%s\">%n", drawing.width(), drawing.height(),
                drawing.width(), drawing.height(), FONT));
        svg.append("<title>").append(escape(title)).append("</title>\n");
        svg.append(String.format(Locale.ROOT, "<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>%n",
                drawing.width(), drawing.height()));
        for (Drawing.Mark mark : drawing.marks()) {
            switch (mark) {
                case Drawing.Line l -> svg.append(String.format(Locale.ROOT,
                        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"%.1f\"/>%n",
                        l.x1(), l.y1(), l.x2(), l.y2(), hex(l.color()), l.stroke()));
                case Drawing.Polyline p -> {
                    StringBuilder points = new StringBuilder();
                    double[] xs = p.xs();
                    double[] ys = p.ys();
                    for (int i = 0; i < xs.length; i++) {
                        points.append(String.format(Locale.ROOT, i == 0 ? "%.1f,%.1f" : " %.1f,%.1f", xs[i], ys[i]));
                    }
                    svg.append(String.format(Locale.ROOT, "<polyline points=\"%s\" fill=\"none\" stroke=\"%s\" "
                            + "stroke-width=\"%.1f\" stroke-linejoin=\"round\"/>%n", points, hex(p.color()),
                            p.stroke()));
                }
                case Drawing.Rect r -> svg.append(String.format(Locale.ROOT,
                        "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>%n", r.x(), r.y(),
                        r.width(), r.height(), hex(r.color())));
                case Drawing.Text t -> svg.append(String.format(Locale.ROOT,
                        "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%.0f\" text-anchor=\"%s\" fill=\"%s\"%s%s>%s</text>%n",
                        t.x(), t.y(), t.size(), switch (t.anchor()) {
                            case START -> "start";
                            case MIDDLE -> "middle";
                            case END -> "end";
                        }, hex(t.color()), t.bold() ? " font-weight=\"bold\"" : "",
                        t.vertical() ? String.format(Locale.ROOT, " transform=\"rotate(-90 %.1f %.1f)\"", t.x(), t.y())
                                : "", escape(t.text())));
            }
        }
        return svg.append("</svg>\n").toString();
    }

    /** @return the colour as {@code #rrggbb} */
    static String hex(int color) {
        return String.format(Locale.ROOT, "#%06x", color & 0xFFFFFF);
    }

    /** @return the text with the characters that are special in XML escaped */
    public static String escape(String text) {
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
