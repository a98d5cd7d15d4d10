package io.gantry.engine.chat;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
import com.hubspot.jinjava.el.TruthyTypeConverter;
import com.hubspot.jinjava.interpret.Context;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.filter.Filter;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import com.hubspot.jinjava.lib.tag.ElseIfTag;
import com.hubspot.jinjava.lib.tag.IfTag;
import com.hubspot.jinjava.tree.ExpressionNode;
import com.hubspot.jinjava.tree.Node;
import com.hubspot.jinjava.tree.TagNode;
import com.hubspot.jinjava.tree.parse.ExpressionToken;
import jinjava.de.odysseus.el.ExpressionFactoryImpl;
import jinjava.de.odysseus.el.tree.TreeBuilderException;
import jinjava.de.odysseus.el.tree.TreeStore;
import jinjava.de.odysseus.el.tree.impl.Cache;
import jinjava.javax.el.CompositeELResolver;
import jinjava.javax.el.ExpressionFactory;

import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * Jinjava set up to render chat templates the way Hugging Face's {@code apply_chat_template} does: trimmed and
 * left-stripped blocks, Jinja's (not Jinjava's legacy) semantics for operators, map keys and whitespace control,
 * Python's string methods, {@code raise_exception} and {@code strftime_now}, and Hugging Face's {@code tojson}.
 * An unknown filter is an error rather than Jinjava's silent empty value.
 *
 * <p>Parsed templates ({@link Node} trees) are immutable and are rendered by many threads at once; each render
 * gets its own interpreter and its own copy of the global context, because Jinjava writes render bookkeeping into
 * the parent context.
 */
final class TemplateEnvironment extends Jinjava {

    /** Parsed expressions kept for reuse, shared by every template this environment compiles. */
    private static final int EXPRESSION_CACHE_SIZE = 1000;
    /**
     * {@code range(n)} is capped (Jinjava's default cap of 1000 would silently cut a loop over a long
     * conversation); no conversation comes near this.
     */
    private static final int RANGE_LIMIT = 1 << 20;

    private final TreeStore parsedExpressions = new TreeStore(new JinjaSyntax(), new Cache(EXPRESSION_CACHE_SIZE));
    private final ExpressionFactory expressions = new ExpressionFactoryImpl(parsedExpressions,
            new TruthyTypeConverter());

    /**
     * @param clock what {@code strftime_now} reads, and in which zone
     * @return a new environment
     */
    static TemplateEnvironment create(Clock clock) {
        return withOwnClassLoader(() -> new TemplateEnvironment(clock));
    }

    /**
     * Runs {@code work} with this jar's class loader as the thread's context class loader. Jinjava's expression
     * library finds its classes by name through the context class loader (its parser when an environment is made,
     * its expression factory when a filter or test is first called); in Felix, or next to another copy of the
     * engine on a classpath, the caller's context class loader does not see this jar's copy.
     */
    private static <T> T withOwnClassLoader(Supplier<T> work) {
        Thread thread = Thread.currentThread();
        ClassLoader previous = thread.getContextClassLoader();
        thread.setContextClassLoader(TemplateEnvironment.class.getClassLoader());
        try {
            return work.get();
        } finally {
            thread.setContextClassLoader(previous);
        }
    }

    private TemplateEnvironment(Clock clock) {
        super(config(clock));
        global("raise_exception", "raiseException");
        global("strftime_now", "strftimeNow");
        PythonFilters.all().forEach(this::registerFilter);
    }

    /**
     * Registers a function of {@link TemplateFunctions} and binds its name as a variable too: Hugging Face passes
     * these as globals, and templates test them ({@code {% if strftime_now is defined %}}).
     */
    private void global(String name, String method) {
        ELFunctionDefinition function = new ELFunctionDefinition("", name, TemplateFunctions.class, method,
                String.class);
        registerFunction(function);
        getGlobalContext().put(name, function);
    }

    private static JinjavaConfig config(Clock clock) {
        CompositeELResolver resolvers = new CompositeELResolver();
        resolvers.add(new PythonStringMethods());
        resolvers.add(JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_ONLY);
        return JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                // Jinja drops the template's last newline, not the output's; ChatTemplate does that to the source.
                .withKeepTrailingNewline(true)
                // Jinja's behaviour wherever Jinjava keeps a legacy one of its own, except that Jinja needs no
                // whitespace inside delimiters ({{'a'}}) and snake-case property names are irrelevant here.
                .withLegacyOverrides(LegacyOverrides.newBuilder()
                        .withEvaluateMapKeys(true)
                        .withIterateOverMapKeys(true)
                        .withUsePyishObjectMapper(true)
                        .withUseNaturalOperatorPrecedence(true)
                        .withParseWhitespaceControlStrictly(true)
                        .withAllowAdjacentTextNodes(true)
                        .withUseTrimmingForNotesAndExpressions(true)
                        .withKeepNullableLoopValues(true)
                        .withHandleBackslashInQuotesOnly(true)
                        .build())
                .withElResolver(resolvers)
                .withRangeLimit(RANGE_LIMIT)
                .withDateTimeProvider(clock::millis)
                .withTimeZone(clock.getZone())
                .build();
    }

    @Override
    public ExpressionFactory getExpressionFactory() {
        return expressions;
    }

    /** A parsed template and its source's lines, for the line numbers of errors. */
    record Compiled(Node root, SourceLines lines) {
    }

    /**
     * Parses a template and checks it, so that syntax errors show now rather than at the first request: the
     * parser's (blocks, tags), every output expression's and {@code if} condition's, and what trial renders of
     * sample conversations find in the other tags they reach.
     *
     * @param source the template, its final newline already removed
     * @param samples bindings for trial renders
     * @return the parsed template
     * @throws ChatTemplateException ({@link ChatTemplateException.Problem#SYNTAX}) on a syntax error or an unknown tag
     */
    Compiled compile(String source, List<Map<String, Object>> samples) {
        SourceLines lines = new SourceLines(source);
        JinjavaInterpreter parser = newInterpreter();
        Node root = parser.parse(source);
        for (TemplateError error : parser.getErrors()) {
            if (error.getSeverity() == TemplateError.ErrorType.FATAL) {
                throw problem(error.getException(), error.getMessage(),
                        lines.find(error.getFieldName(), error.getLineno()), ChatTemplateException.Problem.SYNTAX);
            }
        }
        checkExpressions(root, lines);
        Compiled compiled = new Compiled(root, lines);
        for (Map<String, Object> sample : samples) {
            try {
                render(compiled, sample);
            } catch (ChatTemplateException e) {
                if (e.problem() == ChatTemplateException.Problem.SYNTAX) {
                    throw e;
                }
            }
        }
        return compiled;
    }

    /** Parses each {@code {{ expression }}} and {@code if}/{@code elif} condition as rendering would. */
    private void checkExpressions(Node parent, SourceLines lines) {
        for (Node node : parent.getChildren()) {
            String expression = node instanceof ExpressionNode output ? ((ExpressionToken) output.getMaster()).getExpr()
                    : node instanceof TagNode tag && (tag.getTag() instanceof IfTag || tag.getTag() instanceof ElseIfTag)
                    ? tag.getHelpers() : null;
            if (expression != null) {
                try {
                    parsedExpressions.get("#{" + expression + "}");
                } catch (TreeBuilderException e) {
                    throw problem(e, "Error parsing '" + expression.strip() + "': " + e.getMessage(),
                            lines.find(node.getMaster().getImage(), node.getLineNumber()),
                            ChatTemplateException.Problem.SYNTAX);
                }
            }
            checkExpressions(node, lines);
        }
    }

    /**
     * @param template a template from {@link #compile}
     * @param bindings the template's variables
     * @return the rendered text
     * @throws ChatTemplateException if the template raises an exception, has a syntax error in the part this
     *                               conversation reaches, or uses something unsupported
     */
    String render(Compiled template, Map<String, Object> bindings) {
        return withOwnClassLoader(() -> renderHere(template, bindings));
    }

    private String renderHere(Compiled template, Map<String, Object> bindings) {
        JinjavaInterpreter interpreter = new PythonOutputInterpreter(this, renderContext(bindings));
        String output;
        try {
            output = interpreter.render(template.root());
        } catch (RuntimeException e) {
            // Jinjava reports most faults as errors and carries on; what it throws is a fault inside a tag.
            throw problem(e, rootCause(e).getMessage(), 0, ChatTemplateException.Problem.UNSUPPORTED);
        }
        for (TemplateError error : interpreter.getErrors()) {
            if (error.getSeverity() == TemplateError.ErrorType.FATAL) {
                String subject = cause(error.getException(), UnknownFilterRejectingContext.UnknownFilter.class)
                        .map(UnknownFilterRejectingContext.UnknownFilter::filter).orElse(error.getFieldName());
                throw problem(error.getException(), error.getMessage(),
                        template.lines().find(subject, error.getLineno()), ChatTemplateException.Problem.UNSUPPORTED);
            }
        }
        return output;
    }

    private Context renderContext(Map<String, Object> bindings) {
        return new UnknownFilterRejectingContext(getGlobalContextCopy(), bindings);
    }

    /**
     * Names the problem: the template's own message for {@code raise_exception}; else Jinjava's message and the
     * line (0: unknown), as a syntax error where the expression parser failed.
     */
    private static ChatTemplateException problem(Throwable fault, String message, int line,
            ChatTemplateException.Problem otherwise) {
        Optional<TemplateFunctions.RaisedByTemplate> raised = cause(fault, TemplateFunctions.RaisedByTemplate.class);
        if (raised.isPresent()) {
            return new ChatTemplateException(ChatTemplateException.Problem.RAISED,
                    "The chat template rejected the conversation: " + raised.get().getMessage());
        }
        Optional<UnknownFilterRejectingContext.UnknownFilter> unknownFilter =
                cause(fault, UnknownFilterRejectingContext.UnknownFilter.class);
        ChatTemplateException.Problem problem = unknownFilter.isPresent() ? ChatTemplateException.Problem.UNSUPPORTED
                : cause(fault, TreeBuilderException.class).isPresent() ? ChatTemplateException.Problem.SYNTAX
                : otherwise;
        String what = unknownFilter.map(Throwable::getMessage).orElse(message);
        String where = line > 0 ? "line " + line + ": " : "";
        String summary = problem == ChatTemplateException.Problem.SYNTAX ? "The chat template is not valid Jinja: "
                : "The chat template cannot be rendered: ";
        return new ChatTemplateException(problem, summary + where + what, fault);
    }

    private static <T extends Throwable> Optional<T> cause(Throwable fault, Class<T> type) {
        for (Throwable t = fault; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (type.isInstance(t)) {
                return Optional.of(type.cast(t));
            }
        }
        return Optional.empty();
    }

    private static Throwable rootCause(Throwable fault) {
        Throwable root = fault;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root;
    }

    /** Writes booleans as Python does ({@code True}, {@code False}); Jinjava writes them as Java does. */
    private static final class PythonOutputInterpreter extends JinjavaInterpreter {

        PythonOutputInterpreter(TemplateEnvironment environment, Context context) {
            super(environment, context, environment.getGlobalConfig());
        }

        @Override
        public String getAsString(Object value) {
            if (value instanceof Boolean truth) {
                return truth ? "True" : "False";
            }
            return super.getAsString(value);
        }
    }

    /** A render's root context: Jinjava's lookup of a filter that does not exist gives an error, not nothing. */
    private static final class UnknownFilterRejectingContext extends Context {

        UnknownFilterRejectingContext(Context parent, Map<String, ?> bindings) {
            super(parent, bindings);
        }

        @Override
        public Filter getFilter(String name) {
            Filter filter = super.getFilter(name);
            if (filter == null) {
                throw new UnknownFilter(name);
            }
            return filter;
        }

        static final class UnknownFilter extends RuntimeException {

            private static final long serialVersionUID = 1L;

            private final String filter;

            UnknownFilter(String filter) {
                super("unknown filter '" + filter + "'", null, false, false);
                this.filter = filter;
            }

            String filter() {
                return filter;
            }
        }
    }

    /**
     * The lines of a template's source. Jinjava counts lines short (it does not count a newline that
     * {@code trim_blocks} removes), so the line it reports is where to start looking for the text an error names.
     */
    static final class SourceLines {

        private final String source;

        SourceLines(String source) {
            this.source = source;
        }

        /**
         * @param text    what the error is about (an expression, a tag), or null
         * @param atLeast Jinjava's line for it, never after the true one
         * @return the line where {@code text} first appears from line {@code atLeast} on, or 0 when it does not
         */
        int find(String text, int atLeast) {
            if (text == null || text.isBlank() || atLeast < 1) {
                return 0;
            }
            int from = 0;
            for (int line = 1; line < atLeast && from >= 0; line++) {
                from = source.indexOf('\n', from) + 1;
                from = from == 0 ? -1 : from;
            }
            int at = from < 0 ? -1 : source.indexOf(text.strip(), from);
            return at < 0 ? 0 : 1 + (int) source.substring(0, at).chars().filter(c -> c == '\n').count();
        }
    }
}
