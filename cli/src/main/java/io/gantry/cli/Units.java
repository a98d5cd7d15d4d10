package io.gantry.cli;

import java.util.Locale;

/** How the commands write sizes, counts and rates. */
final class Units {

    private Units() {
    }

    /** @return bytes in MiB below 1 GiB, else in GiB, with two decimals: {@code 136.00 MiB}, {@code 2.06 GiB} */
    static String bytes(long bytes) {
        return bytes < 1L << 30
                ? String.format(Locale.ROOT, "%.2f MiB", bytes / (double) (1 << 20))
                : String.format(Locale.ROOT, "%.2f GiB", bytes / (double) (1L << 30));
    }

    /** @return a parameter count in millions below 1e9, else in billions: {@code 134.11 M}, {@code 1.10 B} */
    static String count(long count) {
        return count < 1_000_000_000L
                ? String.format(Locale.ROOT, "%.2f M", count / 1e6)
                : String.format(Locale.ROOT, "%.2f B", count / 1e9);
    }

    /** @return {@code count / seconds} with one decimal, or {@code -} when no time passed */
    static String rate(long count, double seconds) {
        return seconds > 0 ? String.format(Locale.ROOT, "%.1f", count / seconds) : "-";
    }

    /** @return seconds with two decimals */
    static String seconds(double seconds) {
        return String.format(Locale.ROOT, "%.2f s", seconds);
    }
}
