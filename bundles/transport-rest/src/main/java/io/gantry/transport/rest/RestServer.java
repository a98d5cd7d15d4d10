package io.gantry.transport.rest;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.gantry.api.cache.ResponseCache;
import io.gantry.api.inference.InferenceException;
import io.gantry.api.inference.InferenceService;
import io.gantry.api.inference.ModelInfo;
import io.gantry.api.metrics.MetricsSource;

import io.javalin.Javalin;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;

import org.eclipse.jetty.server.ConnectionLimit;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.ServerConnector;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The HTTP server: an embedded Javalin (Jetty on virtual threads) serving the OpenAI-compatible API, the
 * tokenizer endpoints, asynchronous jobs, health checks, metrics and its OpenAPI document over whatever
 * {@link InferenceService} (and {@link ResponseCache}) is there at the moment of each request. Every error, including a path that does not exist, is answered as an OpenAI error
 * object.
 */
final class RestServer {

    private static final System.Logger LOG = System.getLogger(RestServer.class.getName());
    /** How long {@code DELETE /v1/jobs/{id}} waits for the engine to confirm a cancellation. */
    private static final Duration CANCEL_WAIT = Duration.ofSeconds(5);

    private final ServerSettings settings;
    private final Supplier<InferenceService> inference;
    private final Set<Generation> active = ConcurrentHashMap.newKeySet();
    private final Jobs jobs;
    private final Javalin app;
    private final MetricsEndpoint metricsEndpoint;
    private final ResponseCaching caching;
    /** Every route registered, as {@code METHOD /path/{param}}. */
    private final Set<String> routes = ConcurrentHashMap.newKeySet();

    /**
     * @param settings  where to listen and the limits
     * @param inference the engine's service, read once per request; {@code null} while no model is served
     */
    RestServer(ServerSettings settings, Supplier<InferenceService> inference) {
        this(settings, inference, List::of, () -> null);
    }

    /**
     * @param settings  where to listen and the limits
     * @param inference the engine's service, read once per request; {@code null} while no model is served
     * @param metrics   the registered metric sources, read on every scrape of {@code /metrics}
     * @param cache     the registered response cache, read once per request; {@code null} when there is none
     */
    RestServer(ServerSettings settings, Supplier<InferenceService> inference,
            Supplier<List<MetricsSource>> metrics, Supplier<ResponseCache> cache) {
        this.settings = settings;
        this.inference = inference;
        this.metricsEndpoint = new MetricsEndpoint(metrics, cache);
        this.caching = new ResponseCaching(cache);
        this.jobs = new Jobs(settings.jobTtl(), settings.maxFinishedJobs());
        this.app = withOwnClassLoader(() -> Javalin.create(config -> {
            config.showJavalinBanner = false;
            config.startupWatcherEnabled = false;
            config.useVirtualThreads = true;
            // Compression would buffer server-sent events.
            config.http.disableCompression();
            config.http.maxRequestSize = settings.maxRequestBytes();
            config.jetty.addConnector((server, http) -> {
                ServerConnector connector = new ServerConnector(server, new HttpConnectionFactory(http));
                connector.setHost(settings.host());
                connector.setPort(settings.port());
                connector.setIdleTimeout(settings.idleTimeout().toMillis());
                return connector;
            });
            // Past the limit Jetty stops accepting: new connections wait in the backlog instead of failing.
            config.jetty.modifyServer(server -> server.addBean(new ConnectionLimit(settings.maxConnections(),
                    server)));
            config.requestLogger.http(metricsEndpoint::record);
            config.events.handlerAdded(handler -> {
                if (handler.getHttpMethod().isHttpMethod()) {
                    routes.add(handler.getHttpMethod().name() + " " + handler.getPath());
                }
            });
        }));
        routes();
    }

    private void routes() {
        CompletionEndpoints completions = new CompletionEndpoints(this, jobs);
        app.post("/v1/chat/completions", completions::chat);
        app.post("/v1/completions", completions::text);
        app.post("/v1/models/{model}/generate", completions::generate);
        app.get("/v1/models", this::models);
        app.get("/v1/models/{model}", this::model);
        app.post("/tokenize", this::tokenize);
        app.post("/detokenize", this::detokenize);
        app.get("/v1/jobs/{id}", ctx -> json(ctx, 200, job(ctx).view()));
        app.delete("/v1/jobs/{id}", this::cancelJob);
        app.get("/health", this::health);
        app.get("/healthz", this::health);
        app.get("/ready", this::ready);
        app.get("/metrics", metricsEndpoint::scrape);
        app.get("/openapi.json", new OpenApiDocument()::serve);
        app.exception(ApiException.class, (e, ctx) -> error(ctx, e));
        app.exception(HttpResponseException.class, (e, ctx) -> error(ctx, e.getStatus() == 404
                ? ApiException.notFound("There is no " + ctx.method() + " " + ctx.path())
                : new ApiException(e.getStatus(), e.getStatus() >= 500 ? "server_error" : "invalid_request_error",
                        null, null, e.getMessage(), 0)));
        app.exception(Exception.class, (e, ctx) -> {
            LOG.log(System.Logger.Level.ERROR, "Request " + ctx.method() + " " + ctx.path() + " failed", e);
            error(ctx, new ApiException(500, "server_error", null, null,
                    "The server failed while handling this request", 0));
        });
    }

    /**
     * Adds handlers before the server starts: access control, rate limits, more routes.
     *
     * @return this server
     */
    RestServer install(Consumer<Javalin> handlers) {
        handlers.accept(app);
        return this;
    }

    /** Starts listening. */
    void start() {
        withOwnClassLoader(() -> app.start());
        LOG.log(System.Logger.Level.INFO, "REST API listening on {0}", endpoint());
    }

    /** Cancels every generation and job, and stops listening. */
    void stop() {
        jobs.close();
        active.forEach(Generation::cancel);
        app.stop();
    }

    /** @return the port it listens on */
    int port() {
        return app.port();
    }

    /** @return its address, e.g. {@code http://0.0.0.0:8080} */
    String endpoint() {
        return "http://" + settings.host() + ":" + port();
    }

    /** @return generations running now: requests being answered and jobs */
    int activeRequests() {
        return active.size();
    }

    ServerSettings settings() {
        return settings;
    }

    /** @return every route registered, as {@code METHOD /path/{param}} */
    Set<String> registeredRoutes() {
        return Set.copyOf(routes);
    }

    ResponseCaching caching() {
        return caching;
    }

    Set<Generation> active() {
        return active;
    }

    /** @throws ApiException 503 while no model is served */
    InferenceService service() {
        InferenceService service = inference.get();
        if (service == null) {
            throw ApiException.noModel();
        }
        return service;
    }

    /** @return the request's JSON body (inflated if gzip-encoded), checked against the size limit */
    JsonBody body(Context ctx) throws IOException {
        return JsonBody.read(Compression.requestBody(ctx), ctx.req().getContentLengthLong(),
                settings.maxRequestBytes());
    }

    /** @return the default model: the first one served */
    static String defaultModel(InferenceService service) {
        List<ModelInfo> models = service.models();
        if (models.isEmpty()) {
            throw ApiException.noModel();
        }
        return models.getFirst().id();
    }

    private void models(Context ctx) {
        ObjectNode list = JsonBody.MAPPER.createObjectNode().put("object", "list");
        ArrayNode data = list.putArray("data");
        for (ModelInfo model : service().models()) {
            data.add(model(model));
        }
        json(ctx, 200, list);
    }

    private void model(Context ctx) {
        String id = ctx.pathParam("model");
        ModelInfo model = service().models().stream().filter(m -> m.id().equals(id)).findFirst()
                .orElseThrow(() -> new ApiException(404, "invalid_request_error", "model", "model_not_found",
                        "The model '" + id + "' does not exist", 0));
        json(ctx, 200, model(model));
    }

    private static ObjectNode model(ModelInfo model) {
        ObjectNode node = JsonBody.MAPPER.createObjectNode().put("id", model.id()).put("object", "model")
                .put("created", model.createdEpochSeconds()).put("owned_by", "gantry");
        node.putObject("meta").put("architecture", model.architecture())
                .put("context_length", model.contextLength()).put("vocabulary_size", model.vocabularySize())
                .put("parameters", model.parameters());
        return node;
    }

    /** {@code {"model"?, "content", "add_special"?, "parse_special"?, "with_pieces"?}} to {@code {"tokens"}}. */
    private void tokenize(Context ctx) throws IOException {
        InferenceService service = service();
        JsonBody body = body(ctx);
        String model = modelOf(body, service);
        String content = body.string("content");
        if (content == null) {
            throw ApiException.invalid("content", "'content' is required");
        }
        boolean addSpecial = Boolean.TRUE.equals(body.bool("add_special"));
        boolean parseSpecial = !Boolean.FALSE.equals(body.bool("parse_special"));
        boolean withPieces = Boolean.TRUE.equals(body.bool("with_pieces"));
        int[] tokens = engine(() -> service.tokenize(model, content, addSpecial, parseSpecial));
        ObjectNode response = JsonBody.MAPPER.createObjectNode();
        ArrayNode array = response.putArray("tokens");
        for (int i = 0; i < tokens.length; i++) {
            if (withPieces) {
                array.addObject().put("id", tokens[i]).put("piece", piece(service, model, tokens, i));
            } else {
                array.add(tokens[i]);
            }
        }
        json(ctx, 200, response);
    }

    /**
     * @return the text token {@code i} adds after the token before it: decoding the pair and taking away the first
     *         one's text keeps the leading space that decoding a token alone drops
     */
    private static String piece(InferenceService service, String model, int[] tokens, int i) {
        if (i == 0) {
            return engine(() -> service.detokenize(model, new int[] {tokens[0]}));
        }
        String before = engine(() -> service.detokenize(model, new int[] {tokens[i - 1]}));
        String pair = engine(() -> service.detokenize(model, new int[] {tokens[i - 1], tokens[i]}));
        return pair.startsWith(before) ? pair.substring(before.length())
                : engine(() -> service.detokenize(model, new int[] {tokens[i]}));
    }

    /** {@code {"model"?, "tokens"}} to {@code {"content"}}. */
    private void detokenize(Context ctx) throws IOException {
        InferenceService service = service();
        JsonBody body = body(ctx);
        String model = modelOf(body, service);
        int[] tokens = body.integers("tokens");
        if (tokens == null) {
            throw ApiException.invalid("tokens", "'tokens' is required");
        }
        String content = engine(() -> service.detokenize(model, tokens));
        json(ctx, 200, JsonBody.MAPPER.createObjectNode().put("content", content));
    }

    private static String modelOf(JsonBody body, InferenceService service) {
        String model = body.string("model");
        return model != null ? model : defaultModel(service);
    }

    private Jobs.Job job(Context ctx) {
        Jobs.Job job = jobs.get(ctx.pathParam("id"));
        if (job == null) {
            throw ApiException.notFound("There is no job '" + ctx.pathParam("id") + "' (or it expired)");
        }
        return job;
    }

    /** Cancels a running job and answers with its state once the engine has ended it. */
    private void cancelJob(Context ctx) {
        Jobs.Job job = job(ctx);
        job.generation.cancel();
        job.generation.awaitEnd(CANCEL_WAIT);
        json(ctx, 200, job.view());
    }

    private void health(Context ctx) {
        boolean serving = inference.get() != null;
        json(ctx, serving ? 200 : 503, JsonBody.MAPPER.createObjectNode().put("status", serving ? "ok" : "loading"));
    }

    /** Ready to take generation requests: a model is served. Lists the models. */
    private void ready(Context ctx) {
        InferenceService service = inference.get();
        List<ModelInfo> models = service == null ? List.of() : service.models();
        ObjectNode body = JsonBody.MAPPER.createObjectNode().put("status", models.isEmpty() ? "loading" : "ready");
        ArrayNode ids = body.putArray("models");
        models.forEach(model -> ids.add(model.id()));
        json(ctx, models.isEmpty() ? 503 : 200, body);
    }

    /** A call into the engine that may refuse. */
    private interface EngineCall<T> {
        T call() throws InferenceException;
    }

    private static <T> T engine(EngineCall<T> call) {
        try {
            return call.call();
        } catch (InferenceException e) {
            throw ApiException.from(e, null);
        }
    }

    /** @return the OpenAI error object for an error */
    static ObjectNode errorBody(ApiException e) {
        ObjectNode body = JsonBody.MAPPER.createObjectNode();
        body.putObject("error").put("message", e.getMessage()).put("type", e.type()).put("param", e.param())
                .put("code", e.code());
        return body;
    }

    private static void error(Context ctx, ApiException e) {
        if (e.retryAfterSeconds() > 0) {
            ctx.header("Retry-After", Integer.toString(e.retryAfterSeconds()));
        }
        json(ctx, e.status(), errorBody(e));
    }

    static void json(Context ctx, int status, JsonNode body) {
        ctx.status(status);
        ctx.contentType("application/json");
        try {
            Compression.result(ctx, JsonBody.MAPPER.writeValueAsBytes(body));
        } catch (IOException e) {
            throw new IllegalStateException("A JSON tree could not be written", e);
        }
    }

    /**
     * Runs with this bundle's class loader as the context class loader: Jetty looks up its service providers
     * there, and in OSGi the caller's loader does not see them.
     */
    private static <T> T withOwnClassLoader(Supplier<T> action) {
        Thread thread = Thread.currentThread();
        ClassLoader previous = thread.getContextClassLoader();
        thread.setContextClassLoader(RestServer.class.getClassLoader());
        try {
            return action.get();
        } finally {
            thread.setContextClassLoader(previous);
        }
    }
}
