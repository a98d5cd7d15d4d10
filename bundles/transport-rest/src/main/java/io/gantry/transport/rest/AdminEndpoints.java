package io.gantry.transport.rest;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.gantry.api.plugin.PluginInfo;
import io.gantry.api.plugin.PluginKind;
import io.gantry.api.plugin.PluginRegistry;

import io.javalin.Javalin;
import io.javalin.http.Context;

import java.io.IOException;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.Supplier;

import org.osgi.service.cm.ConfigurationAdmin;

/**
 * The admin API under {@code /admin/}, the same operations as Config Admin over HTTP: list the plugins of every
 * kind and which is active, select the active one, list the installed bundles, set the engine's A/B variants.
 * Access is the {@link Authenticator}'s business: these routes are only installed when an admin key is configured.
 */
final class AdminEndpoints implements Consumer<Javalin> {

    /** Admin bodies are a name or a short setting. */
    private static final long MAX_BODY_BYTES = 64 * 1024;

    /**
     * An installed bundle.
     *
     * @param id           its bundle id
     * @param symbolicName its symbolic name
     * @param version      its version
     * @param state        {@code INSTALLED}, {@code RESOLVED}, {@code STARTING}, {@code ACTIVE}, ...
     */
    record BundleRow(long id, String symbolicName, String version, String state) {
    }

    private final Supplier<PluginRegistry> plugins;
    private final Supplier<List<BundleRow>> bundles;
    private final Supplier<ConfigurationAdmin> configurationAdmin;

    /**
     * @param plugins            the engine's plugin registry, {@code null} while there is none
     * @param bundles            the installed bundles
     * @param configurationAdmin Config Admin, {@code null} while there is none
     */
    AdminEndpoints(Supplier<PluginRegistry> plugins, Supplier<List<BundleRow>> bundles,
            Supplier<ConfigurationAdmin> configurationAdmin) {
        this.plugins = plugins;
        this.bundles = bundles;
        this.configurationAdmin = configurationAdmin;
    }

    @Override
    public void accept(Javalin app) {
        app.get("/admin/plugins", this::listPlugins);
        app.put("/admin/plugins/{kind}", this::selectPlugin);
        app.get("/admin/bundles", this::listBundles);
        app.put("/admin/variants", this::setVariants);
    }

    private void listPlugins(Context ctx) {
        PluginRegistry registry = registry();
        ObjectNode response = JsonBody.MAPPER.createObjectNode();
        for (PluginKind kind : PluginKind.values()) {
            ObjectNode node = response.putObject(kind.key());
            node.put("active", registry.active(kind).map(PluginInfo::name).orElse(null));
            ArrayNode list = node.putArray("plugins");
            for (PluginInfo plugin : registry.plugins(kind)) {
                list.addObject().put("name", plugin.name()).put("description", plugin.description())
                        .put("bundle", plugin.bundle()).put("version", plugin.version())
                        .put("ranking", plugin.ranking()).put("active", plugin.active());
            }
        }
        RestServer.json(ctx, 200, response);
    }

    /** {@code {"name": "priority"}} selects a plugin; a null or absent name goes back to the highest ranking. */
    private void selectPlugin(Context ctx) throws IOException {
        PluginKind kind;
        try {
            kind = PluginKind.fromKey(ctx.pathParam("kind"));
        } catch (IllegalArgumentException e) {
            throw ApiException.notFound(e.getMessage());
        }
        String name = body(ctx).string("name");
        PluginRegistry registry = registry();
        try {
            registry.select(kind, name);
        } catch (IllegalArgumentException e) {
            throw ApiException.invalid("name", e.getMessage());
        } catch (IllegalStateException e) {
            throw unavailable(e.getMessage());
        }
        // The engine switches at its next call boundary: accepted, not yet done.
        RestServer.json(ctx, 202, JsonBody.MAPPER.createObjectNode().put("kind", kind.key()).put("selected", name));
    }

    private void listBundles(Context ctx) {
        ObjectNode response = JsonBody.MAPPER.createObjectNode();
        ArrayNode list = response.putArray("bundles");
        for (BundleRow bundle : bundles.get()) {
            list.addObject().put("id", bundle.id()).put("symbolic_name", bundle.symbolicName())
                    .put("version", bundle.version()).put("state", bundle.state());
        }
        RestServer.json(ctx, 200, response);
    }

    /** {@code {"variants": "control:50:continuous+paged, test:50:priority"}}; empty for no A/B comparison. */
    private void setVariants(Context ctx) throws IOException {
        String variants = body(ctx).string("variants");
        if (variants == null) {
            throw ApiException.invalid("variants", "'variants' is required (an empty string ends the A/B comparison)");
        }
        ConfigurationAdmin admin = configurationAdmin.get();
        if (admin == null) {
            throw unavailable("Config Admin is not available");
        }
        try {
            EngineVariants.store(admin, variants);
        } catch (IllegalArgumentException e) {
            throw ApiException.invalid("variants", e.getMessage());
        }
        RestServer.json(ctx, 202, JsonBody.MAPPER.createObjectNode().put("variants", variants.trim()));
    }

    private PluginRegistry registry() {
        PluginRegistry registry = plugins.get();
        if (registry == null) {
            throw unavailable("The engine's plugin registry is not available");
        }
        return registry;
    }

    private static JsonBody body(Context ctx) throws IOException {
        return JsonBody.read(ctx.req().getInputStream(), ctx.req().getContentLengthLong(), MAX_BODY_BYTES);
    }

    private static ApiException unavailable(String message) {
        return new ApiException(503, "server_error", null, "unavailable", message,
                ApiException.RETRY_UNAVAILABLE_SECONDS);
    }
}
