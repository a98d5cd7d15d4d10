package io.gantry.cli;

/**
 * What the serving benchmark measured of one request. Times are in seconds: {@code start} from the start of the
 * run, the others from the moment the request was sent.
 *
 * @param index        the request's number in the run, from 0
 * @param start        when it was sent, from the start of the run
 * @param error        why it failed, or {@code null} when it succeeded
 * @param httpStatus   the response's status, or 0 when none came
 * @param inputTokens  prompt tokens as the server reported them, or -1 when it did not
 * @param outputTokens generated tokens: the server's count where it reported one, else the content chunks
 * @param tokensFrom   where {@code outputTokens} comes from
 * @param chunks       stream chunks that carried generated text
 * @param ttft         time to first token: from sending to the first chunk with generated text
 * @param e2e          end-to-end latency: from sending to the last chunk with generated text
 * @param itl          inter-token latencies: the gaps between consecutive chunks with generated text
 */
record RequestRecord(int index, double start, String error, int httpStatus, int inputTokens, int outputTokens,
                     TokenCount tokensFrom, int chunks, double ttft, double e2e, double[] itl) {

    /** Where a request's output token count comes from. */
    enum TokenCount {
        /** The {@code usage.completion_tokens} the server sent. */
        USAGE,
        /** The chunks with generated text, taken as one token each. */
        CHUNKS
    }

    /** @return a failed request's record, with what had arrived when it failed */
    static RequestRecord failed(int index, double start, String error, int httpStatus, int chunks) {
        return new RequestRecord(index, start, error, httpStatus, -1, 0, TokenCount.CHUNKS, chunks, Double.NaN,
                Double.NaN, new double[0]);
    }

    /** @return whether the request succeeded: a 200 response that streamed generated text and no error */
    boolean ok() {
        return error == null;
    }

    /**
     * @return time per output token after the first: {@code (e2e - ttft) / (outputTokens - 1)}; NaN for a request
     *         with fewer than two output tokens, which has none
     */
    double tpot() {
        return ok() && outputTokens > 1 ? (e2e - ttft) / (outputTokens - 1) : Double.NaN;
    }
}
