package io.gantry.engine.serving;

import io.gantry.api.inference.GenerationHandle;
import io.gantry.api.inference.GenerationRequest;
import io.gantry.api.inference.InferenceException;
import io.gantry.api.inference.InferenceService;
import io.gantry.api.inference.ModelInfo;
import io.gantry.api.inference.TokenSink;
import io.gantry.api.metrics.MetricFamily;
import io.gantry.api.metrics.MetricsSource;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;

/**
 * The {@link InferenceService} (and {@link MetricsSource}) over a fixed set of {@link ModelServer}s: requests go to
 * a server of their model. Where a model has several (an online A/B comparison, one server per {@link Variant}),
 * a request goes to a variant drawn by the variants' weights: by a hash of its {@code user} when it has one, so
 * that one user always meets the same variant, else at random. Thread-safe; {@link #close()} closes every server.
 */
public final class Engine implements InferenceService, MetricsSource, AutoCloseable {

    /** Per model id, its servers, one per variant. */
    private final Map<String, List<ModelServer>> servers;

    /**
     * @param servers the servers, the default model's first; a model's servers must serve distinct variants
     * @throws IllegalArgumentException if a model has two servers of one variant, or there are none
     */
    public Engine(List<ModelServer> servers) {
        Map<String, List<ModelServer>> byId = new LinkedHashMap<>();
        for (ModelServer server : servers) {
            List<ModelServer> variants = byId.computeIfAbsent(server.id(), id -> new ArrayList<>());
            if (variants.stream().anyMatch(other -> other.variant().name().equals(server.variant().name()))) {
                throw new IllegalArgumentException("Model " + server.id() + " has two servers of variant "
                        + server.variant().name());
            }
            variants.add(server);
        }
        if (byId.isEmpty()) {
            throw new IllegalArgumentException("An engine needs at least one model");
        }
        byId.replaceAll((id, variants) -> List.copyOf(variants));
        this.servers = byId;
    }

    @Override
    public List<ModelInfo> models() {
        return servers.values().stream().map(variants -> variants.getFirst().info()).toList();
    }

    @Override
    public int[] tokenize(String model, String text, boolean addSpecial, boolean parseSpecial)
            throws InferenceException {
        return find(model).getFirst().tokenize(text, addSpecial, parseSpecial);
    }

    @Override
    public String detokenize(String model, int[] tokens) throws InferenceException {
        return find(model).getFirst().detokenize(tokens);
    }

    @Override
    public GenerationHandle submit(GenerationRequest request, TokenSink sink) throws InferenceException {
        return pick(find(request.model()), request.user()).submit(request, sink);
    }

    /** @return the variant for a request of {@code user}, drawn by the variants' weights */
    private static ModelServer pick(List<ModelServer> variants, String user) {
        if (variants.size() == 1) {
            return variants.getFirst();
        }
        int total = variants.stream().mapToInt(server -> server.variant().weight()).sum();
        // A user's hash, spread over the total weight (the multiplier mixes the bits of short names).
        int draw = user != null ? Math.floorMod(user.hashCode() * 0x9E3779B9, total)
                : ThreadLocalRandom.current().nextInt(total);
        for (ModelServer server : variants) {
            draw -= server.variant().weight();
            if (draw < 0) {
                return server;
            }
        }
        throw new AssertionError("The draw is below the total weight");
    }

    /** @return every server's metrics, the samples of each family together */
    @Override
    public List<MetricFamily> collect() {
        Map<String, MetricFamily> families = new LinkedHashMap<>();
        for (ModelServer server : servers.values().stream().flatMap(List::stream).toList()) {
            for (MetricFamily family : server.metrics()) {
                families.merge(family.name(), family, (a, b) -> new MetricFamily(a.name(), a.help(), a.type(),
                        Stream.concat(a.samples().stream(), b.samples().stream()).toList()));
            }
        }
        return List.copyOf(families.values());
    }

    private List<ModelServer> find(String model) throws InferenceException {
        List<ModelServer> server = servers.get(model);
        if (server == null) {
            throw new InferenceException(InferenceException.Kind.UNKNOWN_MODEL, "The model '" + model
                    + "' does not exist; served: " + String.join(", ", servers.keySet()));
        }
        return server;
    }

    /** Closes every server: requests inside end with an {@code UNAVAILABLE} error. */
    @Override
    public void close() throws InterruptedException {
        for (ModelServer server : servers.values().stream().flatMap(List::stream).toList()) {
            server.close();
        }
    }
}
