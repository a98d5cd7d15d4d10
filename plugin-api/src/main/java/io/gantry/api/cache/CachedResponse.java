package io.gantry.api.cache;

import io.gantry.api.inference.Completion;
import io.gantry.api.inference.GeneratedToken;
import java.util.List;

/**
 * A finished response, stored token by token so that it can be replayed as a stream or as one body.
 *
 * @param tokens     the generated tokens in order
 * @param completion how the generation ended
 */
public record CachedResponse(List<GeneratedToken> tokens, Completion completion) {

    /** Copies the token list. */
    public CachedResponse {
        tokens = List.copyOf(tokens);
    }

    /** @return an estimate of the heap bytes this entry takes, for byte-bounded caches */
    public long estimatedBytes() {
        long bytes = 64;
        for (GeneratedToken token : tokens) {
            bytes += 48 + 2L * token.text().length() + 40L * token.topLogprobs().size();
        }
        return bytes;
    }
}
