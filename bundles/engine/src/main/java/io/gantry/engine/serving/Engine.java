package io.gantry.engine.serving;

import io.gantry.api.inference.GenerationHandle;
import io.gantry.api.inference.GenerationRequest;
import io.gantry.api.inference.InferenceException;
import io.gantry.api.inference.InferenceService;
import io.gantry.api.inference.ModelInfo;
import io.gantry.api.inference.TokenSink;
import io.gantry.api.metrics.MetricFamily;
import io.gantry.api.metrics.MetricsSource;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The {@link InferenceService} (and {@link MetricsSource}) over a fixed set of {@link ModelServer}s: requests go to
 * the server of their model. Thread-safe; {@link #close()} closes every server.
 */
public final class Engine implements InferenceService, MetricsSource, AutoCloseable {

    private final Map<String, ModelServer> servers;

    /**
     * @param servers the models to serve, the default first; ids must be unique
     * @throws IllegalArgumentException if two servers have the same id or there are none
     */
    public Engine(List<ModelServer> servers) {
        Map<String, ModelServer> byId = new LinkedHashMap<>();
        for (ModelServer server : servers) {
            if (byId.putIfAbsent(server.id(), server) != null) {
                throw new IllegalArgumentException("Model id " + server.id() + " is served twice");
            }
        }
        if (byId.isEmpty()) {
            throw new IllegalArgumentException("An engine needs at least one model");
        }
        this.servers = byId;
    }

    @Override
    public List<ModelInfo> models() {
        return servers.values().stream().map(ModelServer::info).toList();
    }

    @Override
    public int[] tokenize(String model, String text, boolean addSpecial, boolean parseSpecial)
            throws InferenceException {
        return find(model).tokenize(text, addSpecial, parseSpecial);
    }

    @Override
    public String detokenize(String model, int[] tokens) throws InferenceException {
        return find(model).detokenize(tokens);
    }

    @Override
    public GenerationHandle submit(GenerationRequest request, TokenSink sink) throws InferenceException {
        return find(request.model()).submit(request, sink);
    }

    /** @return every server's metrics, the samples of each family together */
    @Override
    public List<MetricFamily> collect() {
        Map<String, MetricFamily> families = new LinkedHashMap<>();
        for (ModelServer server : servers.values()) {
            for (MetricFamily family : server.metrics()) {
                families.merge(family.name(), family, (a, b) -> new MetricFamily(a.name(), a.help(), a.type(),
                        Stream.concat(a.samples().stream(), b.samples().stream()).toList()));
            }
        }
        return List.copyOf(families.values());
    }

    private ModelServer find(String model) throws InferenceException {
        ModelServer server = servers.get(model);
        if (server == null) {
            throw new InferenceException(InferenceException.Kind.UNKNOWN_MODEL, "The model '" + model
                    + "' does not exist; served: " + String.join(", ", servers.keySet()));
        }
        return server;
    }

    /** Closes every server: requests inside end with an {@code UNAVAILABLE} error. */
    @Override
    public void close() throws InterruptedException {
        for (ModelServer server : servers.values()) {
            server.close();
        }
    }
}
