package io.gantry.transport.rest;

import io.javalin.http.Context;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.Locale;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import java.util.zip.ZipException;

/**
 * gzip for request and response bodies. A request body sent with {@code Content-Encoding: gzip} is inflated as it
 * is read, so that the size limit applies to the inflated bytes (a small compressed body that inflates to gigabytes
 * gets 413 after the limit, never more memory); a damaged one gets 400 and any other encoding 415. A whole response
 * is compressed when the client accepts gzip and it is large enough to gain from it; event streams never are, since
 * a compressor holds back what it has not yet filled a block with.
 */
final class Compression {

    /** Smaller responses go as they are: the gzip header and trailer would eat most of the gain. */
    static final int MIN_COMPRESSED_BYTES = 256;

    private Compression() {
    }

    /**
     * @return the request body, inflated if it is gzip-encoded
     * @throws ApiException 415 for an encoding other than gzip or identity, 400 for a body that is not gzip
     */
    static InputStream requestBody(Context ctx) throws IOException {
        InputStream raw = ctx.req().getInputStream();
        String encoding = ctx.header("Content-Encoding");
        if (encoding == null || encoding.isBlank() || encoding.strip().equalsIgnoreCase("identity")) {
            return raw;
        }
        String name = encoding.strip().toLowerCase(Locale.ROOT);
        if (!name.equals("gzip") && !name.equals("x-gzip")) {
            throw new ApiException(415, "invalid_request_error", null, "unsupported_content_encoding",
                    "The Content-Encoding '" + encoding + "' is not supported; send gzip or no encoding", 0);
        }
        try {
            return new DamageAsBadRequest(new GZIPInputStream(raw));
        } catch (ZipException | EOFException e) {
            throw damaged(e);
        }
    }

    private static ApiException damaged(IOException e) {
        return ApiException.invalid(null, "The request body is not valid gzip: " + e.getMessage());
    }

    /**
     * Sets a whole response body, compressed with gzip when the client accepts it and it is worth it.
     *
     * @param bytes the body, its content type already set
     */
    static void result(Context ctx, byte[] bytes) {
        ctx.header("Vary", "Accept-Encoding");
        if (bytes.length < MIN_COMPRESSED_BYTES || !acceptsGzip(ctx.header("Accept-Encoding"))) {
            ctx.result(bytes);
            return;
        }
        ByteArrayOutputStream compressed = new ByteArrayOutputStream(bytes.length / 3 + 64);
        try (GZIPOutputStream gzip = new GZIPOutputStream(compressed)) {
            gzip.write(bytes);
        } catch (IOException e) {
            throw new IllegalStateException("Compressing into memory failed", e);
        }
        ctx.header("Content-Encoding", "gzip");
        ctx.result(compressed.toByteArray());
    }

    /** @return whether an {@code Accept-Encoding} header admits gzip (by name or {@code *}, with a q above 0) */
    static boolean acceptsGzip(String header) {
        if (header == null) {
            return false;
        }
        for (String element : header.split(",")) {
            String[] parts = element.split(";");
            String coding = parts[0].strip().toLowerCase(Locale.ROOT);
            if (!coding.equals("gzip") && !coding.equals("x-gzip") && !coding.equals("*")) {
                continue;
            }
            double q = 1;
            for (int i = 1; i < parts.length; i++) {
                String parameter = parts[i].strip().toLowerCase(Locale.ROOT);
                if (parameter.startsWith("q=")) {
                    try {
                        q = Double.parseDouble(parameter.substring(2));
                    } catch (NumberFormatException e) {
                        q = 0;
                    }
                }
            }
            if (q > 0) {
                return true;
            }
        }
        return false;
    }

    /** Turns damage found while inflating into a 400 that says so. */
    private static final class DamageAsBadRequest extends FilterInputStream {
        DamageAsBadRequest(InputStream in) {
            super(in);
        }

        @Override
        public int read() throws IOException {
            try {
                return super.read();
            } catch (ZipException | EOFException e) {
                throw damaged(e);
            }
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            try {
                return super.read(b, off, len);
            } catch (ZipException | EOFException e) {
                throw damaged(e);
            }
        }
    }
}
