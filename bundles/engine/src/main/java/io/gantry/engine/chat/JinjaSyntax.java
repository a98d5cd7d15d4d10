package io.gantry.engine.chat;

import com.hubspot.jinjava.el.ExtendedSyntaxBuilder;
import com.hubspot.jinjava.el.ext.ExtendedParser;
import jinjava.de.odysseus.el.tree.Bindings;
import jinjava.de.odysseus.el.tree.impl.Builder;
import jinjava.de.odysseus.el.tree.impl.Parser;
import jinjava.de.odysseus.el.tree.impl.Scanner;
import jinjava.de.odysseus.el.tree.impl.ast.AstBracket;
import jinjava.de.odysseus.el.tree.impl.ast.AstNode;
import jinjava.de.odysseus.el.tree.impl.ast.AstRightValue;
import jinjava.de.odysseus.el.tree.impl.ast.AstUnary;
import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELException;

import java.util.ArrayList;
import java.util.List;

/**
 * Jinjava's expression syntax with two things chat templates need from Jinja:
 * <ul>
 * <li>Jinja's precedence for {@code not}. Jinjava parses {@code not} as a unary operator that binds tighter than
 *     tests, filters and comparisons, so {@code not tools is defined} became {@code (not tools) is defined}; in
 *     Jinja it is {@code not (tools is defined)}, and {@code not a == b} is {@code not (a == b)}. Here {@code not}
 *     sits at Jinja's level: looser than comparisons, tighter than {@code and}.</li>
 * <li>Slices with a step, {@code messages[::-1]} (Jinjava knows {@code [start:stop]} only).</li>
 * </ul>
 */
final class JinjaSyntax extends ExtendedSyntaxBuilder {

    private static final long serialVersionUID = 1L;

    /** Method calls and varargs on, as in the JUEL profile Jinjava itself uses. */
    JinjaSyntax() {
        super(Builder.Feature.METHOD_INVOCATIONS, Builder.Feature.VARARGS);
    }

    @Override
    protected Parser createParser(String expression) {
        return new JinjaParser(this, expression);
    }

    private static final class JinjaParser extends ExtendedParser {

        JinjaParser(Builder context, String input) {
            super(context, input);
        }

        /** {@code [::step]}: the bracket's content starts with two colons. */
        @Override
        protected AstNode expr(boolean required) throws Scanner.ScanException, ParseException {
            if (!required && getToken().getSymbol() == Scanner.Symbol.COLON
                    && lookahead(0).getSymbol() == Scanner.Symbol.COLON) {
                consumeToken();
                consumeToken();
                return new Step(expr(true));
            }
            return super.expr(required);
        }

        @Override
        protected AstBracket createAstBracket(AstNode base, AstNode property, boolean lvalue, boolean strict) {
            return property instanceof Step step ? new SteppedSlice(base, step.size)
                    : super.createAstBracket(base, property, lvalue, strict);
        }

        /** The operand of {@code and}: where Jinja's {@code not} sits, above the comparisons. */
        @Override
        protected AstNode eq(boolean required) throws Scanner.ScanException, ParseException {
            if (getToken().getSymbol() == Scanner.Symbol.NOT) {
                consumeToken();
                return createAstUnary(eq(true), AstUnary.NOT);
            }
            return super.eq(required);
        }
    }

    /** What {@code ::step} parses to, until the bracket it stands in becomes a {@link SteppedSlice}. */
    private static final class Step extends AstRightValue {

        private final AstNode size;

        Step(AstNode size) {
            this.size = size;
        }

        @Override
        public Object eval(Bindings bindings, ELContext context) {
            throw new ELException("a slice step stands only inside brackets: [::step]");
        }

        @Override
        public void appendStructure(StringBuilder builder, Bindings bindings) {
            builder.append("::");
            size.appendStructure(builder, bindings);
        }

        @Override
        public int getCardinality() {
            return 1;
        }

        @Override
        public AstNode getChild(int index) {
            return index == 0 ? size : null;
        }

        @Override
        public String toString() {
            return "::step";
        }
    }

    /** {@code sequence[::step]} on a list or a string, as in Python: a negative step walks from the end. */
    private static final class SteppedSlice extends AstBracket {

        SteppedSlice(AstNode base, AstNode step) {
            super(base, step, false, true);
        }

        @Override
        public Object eval(Bindings bindings, ELContext context) {
            Object sequence = prefix.eval(bindings, context);
            Object stepValue = property.eval(bindings, context);
            if (!(stepValue instanceof Number number) || number.intValue() == 0) {
                throw new ELException("a slice step must be a non-zero integer, not " + stepValue);
            }
            int step = number.intValue();
            if (sequence == null) {
                return null;
            }
            if (sequence instanceof CharSequence text) {
                StringBuilder sliced = new StringBuilder();
                for (int i = step > 0 ? 0 : text.length() - 1; i >= 0 && i < text.length(); i += step) {
                    sliced.append(text.charAt(i));
                }
                return sliced.toString();
            }
            if (!(sequence instanceof List<?> list)) {
                throw new ELException("only lists and strings can be sliced with a step, not "
                        + sequence.getClass().getSimpleName());
            }
            List<Object> sliced = new ArrayList<>();
            for (int i = step > 0 ? 0 : list.size() - 1; i >= 0 && i < list.size(); i += step) {
                sliced.add(list.get(i));
            }
            return sliced;
        }

        @Override
        public String toString() {
            return "[::step]";
        }
    }
}
