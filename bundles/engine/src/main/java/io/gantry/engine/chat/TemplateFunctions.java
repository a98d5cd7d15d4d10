package io.gantry.engine.chat;

import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.objects.date.StrftimeFormatter;

import java.time.Instant;
import java.time.ZonedDateTime;
import java.util.Locale;

/**
 * The global functions Hugging Face's {@code apply_chat_template} gives chat templates. Public only because the
 * template engine calls them by reflection; the package is private to the engine bundle.
 */
public final class TemplateFunctions {

    private TemplateFunctions() {
    }

    /**
     * {@code raise_exception(message)}: the template refuses the conversation.
     *
     * @param message the template's reason
     * @return never
     * @throws RaisedByTemplate always
     */
    public static String raiseException(String message) {
        throw new RaisedByTemplate(message);
    }

    /**
     * {@code strftime_now(format)}: the current time in Python {@code strftime} format (English names), from the
     * clock and zone the template was compiled with.
     *
     * @param format e.g. {@code "%d %b %Y"}
     * @return the formatted time
     */
    public static String strftimeNow(String format) {
        JinjavaConfig config = JinjavaInterpreter.getCurrent().getConfig();
        ZonedDateTime now = Instant.ofEpochMilli(config.getDateTimeProvider().getCurrentTimeMillis())
                .atZone(config.getTimeZone());
        return StrftimeFormatter.format(now, format, Locale.ENGLISH);
    }

    /** What {@code raise_exception} throws; the renderer turns it into a {@link ChatTemplateException}. */
    static final class RaisedByTemplate extends RuntimeException {

        private static final long serialVersionUID = 1L;

        RaisedByTemplate(String message) {
            super(message, null, false, false);
        }
    }
}
