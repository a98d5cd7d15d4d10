package io.gantry.transport.rest;

import io.javalin.http.Context;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/**
 * {@code GET /openapi.json}: the OpenAPI 3 document of the API, kept by hand next to this class
 * ({@code openapi.json}); a test checks that it names exactly the routes the server registers.
 */
final class OpenApiDocument {

    /** The resource, relative to this class. */
    static final String RESOURCE = "openapi.json";

    private final byte[] document;

    OpenApiDocument() {
        try (InputStream in = OpenApiDocument.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException("The bundle lacks its " + RESOURCE);
            }
            document = in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("The bundle's " + RESOURCE + " cannot be read", e);
        }
    }

    void serve(Context ctx) {
        ctx.status(200);
        ctx.contentType("application/json");
        Compression.result(ctx, document);
    }
}
