package io.gantry.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.util.List;

/**
 * Renders a chat template through the engine jar's private chat-template package, loaded by whatever class loader
 * the caller has (the engine bundle's in Felix, a plain URL class loader outside): the template engine and the
 * libraries the jar carries must work in both. Reflection, because the package is not exported.
 */
final class ChatTemplateProbe {

    /** Jackson (tojson), a namespace, a Python string method, a filter chain, and raise_exception. */
    private static final String TEMPLATE = "{% set ns = namespace(n=0) %}{% for m in messages %}"
            + "{% set ns.n = ns.n + 1 %}{{ m.role | upper }}:{{ m.content.strip() }};{% endfor %}"
            + "{{ messages | map(attribute='role') | list | tojson }}{{ ns.n }}"
            + "{% if messages | length > 1 %}{{ raise_exception('one message only') }}{% endif %}";

    /** Loads a class by name from the engine jar's class loader. */
    interface Loader {
        Class<?> load(String name) throws ClassNotFoundException;
    }

    private ChatTemplateProbe() {
    }

    static void renders(Loader engine) throws Exception {
        Class<?> chatTemplate = engine.load("io.gantry.engine.chat.ChatTemplate");
        Class<?> chatMessage = engine.load("io.gantry.api.inference.ChatMessage");
        Object template = chatTemplate.getMethod("of", String.class, String.class, String.class)
                .invoke(null, TEMPLATE, "<s>", "</s>");
        Method render = chatTemplate.getMethod("render", List.class, boolean.class);
        Object user = chatMessage.getConstructor(String.class, String.class).newInstance("user", "  Hi  ");
        assertEquals("USER:Hi;[\"user\"]1", render.invoke(template, List.of(user), true));
        try {
            render.invoke(template, List.of(user, user), true);
            fail("the template raises an exception for two messages");
        } catch (InvocationTargetException e) {
            assertEquals("io.gantry.engine.chat.ChatTemplateException", e.getCause().getClass().getName());
            assertTrue(e.getCause().getMessage(), e.getCause().getMessage().endsWith("one message only"));
        }
    }
}
