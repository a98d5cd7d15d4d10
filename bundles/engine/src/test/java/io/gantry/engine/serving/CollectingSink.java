package io.gantry.engine.serving;

import io.gantry.api.inference.Completion;
import io.gantry.api.inference.GeneratedToken;
import io.gantry.api.inference.InferenceException;
import io.gantry.api.inference.TokenSink;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;

/** Collects a request's text and ending, for tests. */
final class CollectingSink implements TokenSink {

    final StringBuilder text = new StringBuilder();
    final CompletableFuture<Completion> done = new CompletableFuture<>();
    final CountDownLatch firstToken = new CountDownLatch(1);

    @Override
    public void onToken(GeneratedToken token) {
        text.append(token.text());
        firstToken.countDown();
    }

    @Override
    public void onComplete(Completion completion) {
        done.complete(completion);
    }

    @Override
    public void onError(InferenceException error) {
        done.completeExceptionally(error);
    }
}
