package io.gantry.engine.chat;

/**
 * A chat template that cannot be compiled, or a conversation it cannot render. The message names the problem
 * (with the template line where one is known) and never contains the conversation itself.
 */
public final class ChatTemplateException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    /** What went wrong. */
    public enum Problem {
        /** The template is not valid Jinja (an unclosed block, a malformed expression, an unknown tag). */
        SYNTAX,
        /** The template refused the conversation through {@code raise_exception} (roles that do not alternate, say). */
        RAISED,
        /** The template uses something Gantry does not provide: an unknown filter, function or method. */
        UNSUPPORTED
    }

    private final Problem problem;

    ChatTemplateException(Problem problem, String message) {
        super(message);
        this.problem = problem;
    }

    ChatTemplateException(Problem problem, String message, Throwable cause) {
        super(message, cause);
        this.problem = problem;
    }

    /** @return what went wrong; {@link Problem#RAISED} is the caller's conversation, the others are the template's */
    public Problem problem() {
        return problem;
    }
}
