package io.gantry.engine.chat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.params.provider.Arguments.argumentSet;

/**
 * The Python and Jinja behaviour chat templates rely on, one construct family per case, rendered over
 * {@link Conversations#CHAT}. The expected output is what Jinja gives with Hugging Face's settings.
 */
class PythonismsTest {

    static Stream<Arguments> constructs() {
        return Stream.of(
                argumentSet("str methods and indexing",
                        "{{ '  x  '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ ' x'.lstrip() }}|{{ 'x '.rstrip() }}|"
                                + "{{ 'abc'.startswith('ab') }}|{{ 'abc'.endswith(('x', 'c')) }}|{{ 'a|b'.split('|') }}|"
                                + "{{ ' a  b '.split() }}|{{ 'a</think>b'.split('</think>')[-1] }}|"
                                + "{{ 'hello world'.title() }}|{{ 'hELLO'.capitalize() }}|{{ 'ab'.upper() }}{{ 'AB'.lower() }}|"
                                + "{{ 'aaa'.replace('a', 'b', 2) }}|{{ '-'.join(['a', 'b']) }}|{{ 'hello'[0] }}{{ 'hello'[-1] }}",
                        "x|a|x|x|True|True|['a', 'b']|['a', 'b']|b|Hello World|Hello|ABab|bba|a-b|ho"),
                argumentSet("not binds looser than tests and comparisons",
                        "{{ not undefined_thing is defined }}|{{ not 1 == 2 }}|{{ not messages|length == 3 }}|"
                                + "{{ true and not false }}|{{ not messages[0].role == 'user' or true }}",
                        "True|True|False|True|True"),
                argumentSet("tests and membership",
                        "{{ 'x' is string }}|{{ messages[0] is mapping }}|{{ messages is iterable }}|{{ none is none }}|"
                                + "{{ 1 is not none }}|{{ missing is defined }}|{{ 'role' in messages[0] }}|"
                                + "{{ 'tool_calls' in messages[0] }}|{{ messages[0].tool_calls is defined }}",
                        "True|True|True|True|True|False|True|False|False"),
                argumentSet("slices, negative indexes and steps",
                        "{% set roles = messages | map(attribute='role') | list %}{{ roles[1:] }}|{{ roles[:1] }}|"
                                + "{{ roles[-1] }}|{{ roles[::-1] }}|{{ 'abc'[::-1] }}|{{ messages[1:] | length }}|"
                                + "{{ roles[::2] }}",
                        "['assistant', 'user']|['user']|user|['user', 'assistant', 'user']|cba|2|['user', 'user']"),
                argumentSet("namespace and loop variables",
                        "{% set ns = namespace(count=0, last='') %}{% for m in messages %}"
                                + "{% set ns.count = ns.count + 1 %}{% if loop.last %}{% set ns.last = m.role %}{% endif %}"
                                + "{{ loop.index0 }}{{ loop.first }}{{ loop.last }};{% endfor %}{{ ns.count }}/{{ ns.last }}",
                        "0TrueFalse;1FalseFalse;2FalseTrue;3/user"),
                argumentSet("tojson as Python's json.dumps, non-ASCII kept",
                        "{% set data = {'a': [1, 'x', none, true, 1.5], 'é': {} } %}{{ data | tojson }}",
                        "{\"a\": [1, \"x\", null, true, 1.5], \"é\": {}}"),
                argumentSet("tojson with indent and sorted keys",
                        "{% set data = {'b': [1, 2], 'a': {} } %}{{ data | tojson(indent=2, sort_keys=true) }}",
                        "{\n  \"a\": {},\n  \"b\": [\n    1,\n    2\n  ]\n}"),
                argumentSet("items",
                        "{% for k, v in {'x': 1, 'y': 'z'} | items %}{{ k }}={{ v }};{% endfor %}",
                        "x=1;y=z;"),
                argumentSet("whitespace control, trimmed and left-stripped blocks, trim",
                        "{% for m in messages %}\n    {{- m.role -}}\n  {% if not loop.last %},{% endif %}\n"
                                + "{% endfor %}\n[{{ '  x  ' | trim }}]",
                        "user,assistant,user[x]"),
                argumentSet("strftime_now",
                        "{{ strftime_now('%d %b %Y %H:%M') }}",
                        "10 Feb 2025 09:30"),
                argumentSet("operators: filters bind tighter than +, ~, //, %, inline if",
                        "{{ '[' + '  x  ' | trim + ']' }}|{{ messages|length > 2 }}|{{ messages[0]['content'] ~ '!' }}|"
                                + "{{ 7 // 2 }}{{ 7 % 2 }}|{{ 'yes' if messages else 'no' }}",
                        "[x]|True|Hello!|31|yes"),
                argumentSet("loop controls",
                        "{% for m in messages %}{% if m.role == 'assistant' %}{% continue %}{% endif %}"
                                + "{{ m.content }};{% endfor %}",
                        "Hello;What is 2+2?;"),
                argumentSet("the source's final newline is not output, newlines before it are",
                        "{{ bos_token }}\n\n", "<s>\n"));
    }

    @ParameterizedTest
    @MethodSource("constructs")
    void rendersAsJinjaDoes(String source, String expected) {
        ChatTemplate template = ChatTemplate.of(source, "<s>", "</s>", Conversations.FEB_10_2025);
        assertEquals(expected, template.render(Conversations.CHAT, true));
    }
}
