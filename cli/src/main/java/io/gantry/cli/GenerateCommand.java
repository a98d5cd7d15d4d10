package io.gantry.cli;

import io.gantry.api.inference.GeneratedToken;
import io.gantry.api.inference.SamplingParams;
import io.gantry.engine.model.Generator;
import io.gantry.engine.model.Transformer;
import io.gantry.engine.tokenizer.Tokenizer;
import io.gantry.engine.tokenizer.Tokenizers;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Collectors;

/** {@code gantry generate}: continues a prompt, streaming the text as it is generated. */
@Command(name = "generate", mixinStandardHelpOptions = true, versionProvider = Main.Version.class, sortOptions = false,
        description = {
            "Continues a prompt with a model on the CPU (or a GPU: --backend cuda), streaming the prompt and the "
                + "generated text to standard output as tokens arrive; timings go to standard error."})
final class GenerateCommand implements Callable<Integer> {

    /** Prompt tokens one step takes at most: long prompts are prefilled in chunks of this many. */
    private static final int PREFILL_CHUNK = 512;
    /** The KV block size of {@link Generator}'s layout, to which the pool is rounded up. */
    private static final int KV_BLOCK = 16;

    @Spec
    private CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "FILE", description = "GGUF model file.")
    private Path modelPath;

    @Option(names = "--prompt", required = true, paramLabel = "TEXT",
            description = "Text to continue, tokenized as plain text after BOS where the model wants one; \"\" "
                    + "starts from BOS alone.")
    private String prompt;

    @Option(names = "--max-tokens", paramLabel = "N", defaultValue = "256",
            description = "Most tokens to generate (default: ${DEFAULT-VALUE}); the context length also ends generation.")
    private int maxTokens;

    @Option(names = "--temperature", paramLabel = "T", defaultValue = "0.8",
            description = "0 for greedy decoding (default: ${DEFAULT-VALUE}).")
    private float temperature;

    @Option(names = "--top-k", paramLabel = "K", defaultValue = "40",
            description = "Keep the K most likely tokens; 0 keeps all (default: ${DEFAULT-VALUE}).")
    private int topK;

    @Option(names = "--top-p", paramLabel = "P", defaultValue = "0.95",
            description = "Keep the most likely tokens up to probability P; 1 keeps all (default: ${DEFAULT-VALUE}).")
    private float topP;

    @Option(names = "--min-p", paramLabel = "P", defaultValue = "0.05",
            description = "Drop tokens less likely than P times the most likely; 0 keeps all (default: ${DEFAULT-VALUE}).")
    private float minP;

    @Option(names = "--repeat-penalty", paramLabel = "X", defaultValue = "1.0",
            description = "Penalty on tokens of the prompt and output; 1 is off (default: ${DEFAULT-VALUE}).")
    private float repeatPenalty;

    @Option(names = "--presence-penalty", paramLabel = "X", defaultValue = "0",
            description = "Subtracted once from generated tokens' logits, -2..2 (default: ${DEFAULT-VALUE}).")
    private float presencePenalty;

    @Option(names = "--frequency-penalty", paramLabel = "X", defaultValue = "0",
            description = "Subtracted per occurrence from generated tokens' logits, -2..2 (default: ${DEFAULT-VALUE}).")
    private float frequencyPenalty;

    @Option(names = "--seed", paramLabel = "N",
            description = "Random seed; the same seed gives the same text (default: a random one, shown on standard "
                    + "error).")
    private Long seed;

    @Option(names = "--stop", paramLabel = "STR",
            description = "Stop when the output contains STR, which is left out; repeatable.")
    private List<String> stop = new ArrayList<>();

    @Option(names = "--ignore-eos", description = "Go on past end-of-generation tokens.")
    private boolean ignoreEos;

    @Option(names = "--logprobs", paramLabel = "N",
            description = "Print one line per generated token instead of the text: its id, log-probability, text and "
                    + "the N most likely alternatives (0..20).")
    private Integer logprobs;

    @Mixin
    private ThreadsOption threads;

    @Mixin
    private BackendOption backend;

    @Mixin
    private KvCacheTypeOption kvCacheType;

    @Override
    public Integer call() throws IOException {
        SamplingParams sampling = sampling();
        if (maxTokens < 1) {
            throw new ParameterException(spec.commandLine(), "--max-tokens must be at least 1, got " + maxTokens);
        }
        if (logprobs != null && (logprobs < 0 || logprobs > 20)) {
            throw new ParameterException(spec.commandLine(), "--logprobs must be between 0 and 20, got " + logprobs);
        }
        if (stop.stream().anyMatch(String::isEmpty)) {
            throw new ParameterException(spec.commandLine(), "--stop must not be empty");
        }
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        try (LoadedModel model = LoadedModel.open(modelPath, backend, threads.threads())) {
            err.println("gantry: " + model.summary());
            Tokenizer tokenizer = Tokenizers.fromGguf(model.file);
            int[] promptTokens = promptTokens(tokenizer);
            int length = (int) Math.min(model.config.contextLength(), (long) promptTokens.length + maxTokens);
            try (Transformer transformer = new Transformer(model.weights, Math.min(PREFILL_CHUNK, promptTokens.length),
                    1, Math.ceilDiv(length, KV_BLOCK) * KV_BLOCK, kvCacheType.kvCacheType())) {
                Generator.Request request = new Generator.Request(promptTokens, sampling, maxTokens, ignoreEos,
                        logprobs == null ? -1 : logprobs, stop);
                err.println("gantry: prompt " + promptTokens.length + " tokens; sampling " + describe(sampling));
                err.flush();
                if (logprobs == null) {
                    out.print(prompt);
                }
                Output output = new Output(out, tokenizer, prompt.isEmpty());
                long start = System.nanoTime();
                Generator.Result result = new Generator(transformer, tokenizer).generate(request, output::accept);
                long end = System.nanoTime();
                output.finish(result);
                err.println(timings(promptTokens.length, result, start, output.firstTokenAt, end));
                err.flush();
            }
        }
        return 0;
    }

    /**
     * The prompt's tokens, BOS first where the vocabulary asks for it. Where a {@code --chat} option will come, it
     * renders the model's chat template here, and the rest of the command stays as it is.
     */
    private int[] promptTokens(Tokenizer tokenizer) {
        int[] tokens = tokenizer.encode(prompt, true, false);
        if (tokens.length == 0) {
            throw new ParameterException(spec.commandLine(), "the prompt is empty and this model's vocabulary adds no "
                    + "BOS token, so there is nothing to start from: give a --prompt");
        }
        return tokens;
    }

    private SamplingParams sampling() {
        try {
            return new SamplingParams(temperature, topK, topP, minP, repeatPenalty, presencePenalty, frequencyPenalty,
                    seed != null ? seed : ThreadLocalRandom.current().nextLong());
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), "invalid sampling option: " + e.getMessage(), e);
        }
    }

    private static String describe(SamplingParams p) {
        return p.isGreedy() ? "greedy" : String.format(Locale.ROOT,
                "temperature %s, top-k %d, top-p %s, min-p %s, repeat penalty %s, presence %s, frequency %s, seed %d",
                p.temperature(), p.topK(), p.topP(), p.minP(), p.repetitionPenalty(), p.presencePenalty(),
                p.frequencyPenalty(), p.seed());
    }

    /** Prefill is the time to the first token; decoding the time from the first to the last token. */
    private static String timings(int promptTokens, Generator.Result result, long start, long firstTokenAt, long end) {
        int generated = result.tokens().length;
        double prefill = ((generated > 0 ? firstTokenAt : end) - start) / 1e9;
        String line = "gantry: prompt " + promptTokens + " tokens in " + Units.seconds(prefill) + " ("
                + Units.rate(promptTokens, prefill) + " tok/s); generated " + generated + " tokens";
        if (generated > 1) {
            double decode = (end - firstTokenAt) / 1e9;
            line += ", " + (generated - 1) + " after the first in " + Units.seconds(decode) + " ("
                    + Units.rate(generated - 1, decode) + " tok/s)";
        }
        return line + "; finished: " + result.finishReason().name().toLowerCase(Locale.ROOT);
    }

    /** Writes tokens as they arrive: their text, or with {@code --logprobs} a line each. */
    private final class Output {
        private final PrintWriter out;
        private final Tokenizer tokenizer;
        private final List<Integer> generated = new ArrayList<>();
        /** Whether the output starts the text, so that a SentencePiece dummy-prefix space is dropped as decode does. */
        private boolean atTextStart;
        private int streamedChars;
        long firstTokenAt;

        Output(PrintWriter out, Tokenizer tokenizer, boolean atTextStart) {
            this.out = out;
            this.tokenizer = tokenizer;
            this.atTextStart = atTextStart;
        }

        void accept(int sequence, GeneratedToken token) {
            if (generated.isEmpty()) {
                firstTokenAt = System.nanoTime();
            }
            generated.add(token.id());
            streamedChars += token.text().length();
            if (logprobs != null) {
                out.println(logprobLine(token));
            } else {
                out.print(textStart(token.text()));
            }
            out.flush();
        }

        private String textStart(String text) {
            if (!atTextStart || text.isEmpty()) {
                return text;
            }
            atTextStart = false;
            int[] ids = generated.stream().mapToInt(Integer::intValue).toArray();
            return text.startsWith(" ") && !tokenizer.decode(ids).startsWith(" ") ? text.substring(1) : text;
        }

        /** Writes what generation held back to the end (text that might have begun a stop string), and a newline. */
        void finish(Generator.Result result) {
            if (logprobs == null) {
                String tail = textStart(result.text().substring(streamedChars));
                out.print(tail);
                out.println();
            }
            out.flush();
        }

        private String logprobLine(GeneratedToken token) {
            String alternatives = token.topLogprobs().stream()
                    .map(t -> quoted(t.text()) + " " + String.format(Locale.ROOT, "%.4f", t.logprob()))
                    .collect(Collectors.joining(", "));
            String text = new String(tokenizer.tokenBytes(token.id(), true), StandardCharsets.UTF_8);
            return String.format(Locale.ROOT, "%d\t%.4f\t%s\t%s", token.id(), token.logprob(), quoted(text),
                    alternatives);
        }
    }

    /** @return the text in double quotes, with quotes, backslashes and control characters escaped */
    static String quoted(String text) {
        StringBuilder quoted = new StringBuilder("\"");
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            switch (c) {
                case '"' -> quoted.append("\\\"");
                case '\\' -> quoted.append("\\\\");
                case '\n' -> quoted.append("\\n");
                case '\t' -> quoted.append("\\t");
                case '\r' -> quoted.append("\\r");
                default -> {
                    if (c < 0x20) {
                        quoted.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
                    } else {
                        quoted.append(c);
                    }
                }
            }
        }
        return quoted.append('"').toString();
    }
}
