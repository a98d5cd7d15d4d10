package io.gantry.cli.chart;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.AffineTransform;
import java.awt.geom.Line2D;
import java.awt.geom.Path2D;
import java.awt.geom.Rectangle2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import javax.imageio.ImageIO;

/** Paints a {@link Drawing} with Java2D into a PNG file. */
public final class PngRenderer {

    /** Pixels per drawing unit: twice the canvas size, so the image stays sharp on high-density screens. */
    private static final int SCALE = 2;

    static {
        // Painting into an image needs no display; without this, AWT may look for one.
        System.setProperty("java.awt.headless", "true");
    }

    private PngRenderer() {
    }

    /**
     * @param drawing what to paint
     * @param file    the PNG file to write
     * @throws IOException if the file cannot be written
     */
    public static void write(Drawing drawing, Path file) throws IOException {
        if (!ImageIO.write(paint(drawing), "png", file.toFile())) {
            throw new IOException("No PNG writer in this JDK");
        }
    }

    /** @return the drawing painted into an image {@value #SCALE} times its size */
    static BufferedImage paint(Drawing drawing) {
        BufferedImage image = new BufferedImage(drawing.width() * SCALE, drawing.height() * SCALE,
                BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setRenderingHint(RenderingHints.KEY_STROKE_CONTROL, RenderingHints.VALUE_STROKE_PURE);
            g.scale(SCALE, SCALE);
            g.setColor(Color.WHITE);
            g.fill(new Rectangle2D.Double(0, 0, drawing.width(), drawing.height()));
            for (Drawing.Mark mark : drawing.marks()) {
                switch (mark) {
                    case Drawing.Line l -> {
                        g.setColor(new Color(l.color()));
                        g.setStroke(new BasicStroke((float) l.stroke()));
                        g.draw(new Line2D.Double(l.x1(), l.y1(), l.x2(), l.y2()));
                    }
                    case Drawing.Polyline p -> {
                        double[] xs = p.xs();
                        double[] ys = p.ys();
                        Path2D.Double path = new Path2D.Double();
                        path.moveTo(xs[0], ys[0]);
                        for (int i = 1; i < xs.length; i++) {
                            path.lineTo(xs[i], ys[i]);
                        }
                        g.setColor(new Color(p.color()));
                        g.setStroke(new BasicStroke((float) p.stroke(), BasicStroke.CAP_BUTT, BasicStroke.JOIN_ROUND));
                        g.draw(path);
                    }
                    case Drawing.Rect r -> {
                        g.setColor(new Color(r.color()));
                        g.fill(new Rectangle2D.Double(r.x(), r.y(), r.width(), r.height()));
                    }
                    case Drawing.Text t -> text(g, t);
                }
            }
        } finally {
            g.dispose();
        }
        return image;
    }

    private static void text(Graphics2D g, Drawing.Text text) {
        g.setFont(new Font(Font.SANS_SERIF, text.bold() ? Font.BOLD : Font.PLAIN, 1).deriveFont((float) text.size()));
        g.setColor(new Color(text.color()));
        double width = g.getFontMetrics().getStringBounds(text.text(), g).getWidth();
        double shift = switch (text.anchor()) {
            case START -> 0;
            case MIDDLE -> width / 2;
            case END -> width;
        };
        AffineTransform saved = g.getTransform();
        if (text.vertical()) {
            g.rotate(-Math.PI / 2, text.x(), text.y());
        }
        g.drawString(text.text(), (float) (text.x() - shift), (float) text.y());
        g.setTransform(saved);
    }
}
