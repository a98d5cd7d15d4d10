package io.gantry.engine.model;

import java.util.Map;

/**
 * A plain double-precision forward pass over a {@link SyntheticModel}'s weights, one position at a time, written
 * from the llama and qwen2 definitions independently of {@link Transformer} and of any backend.
 */
final class ReferenceForward {

    private final SyntheticModel model;
    private final boolean neox;
    private final double[][][] keys;
    private final double[][][] values;

    ReferenceForward(SyntheticModel model, boolean neox, int positions) {
        this.model = model;
        this.neox = neox;
        this.keys = new double[model.layers][positions][];
        this.values = new double[model.layers][positions][];
    }

    /** @return the logits after feeding {@code token} at {@code position} (positions must come in order) */
    double[] next(int token, int position) {
        Map<String, float[]> w = model.tensors;
        int dim = model.embedding;
        int headDim = model.headDim();
        double[] x = new double[dim];
        for (int i = 0; i < dim; i++) {
            x[i] = w.get("token_embd.weight")[token * dim + i];
        }
        for (int l = 0; l < model.layers; l++) {
            String b = "blk." + l + ".";
            double[] xn = rmsNorm(x, w.get(b + "attn_norm.weight"));
            double[] q = add(multiply(w.get(b + "attn_q.weight"), xn), w.get(b + "attn_q.bias"));
            double[] k = add(multiply(w.get(b + "attn_k.weight"), xn), w.get(b + "attn_k.bias"));
            double[] v = add(multiply(w.get(b + "attn_v.weight"), xn), w.get(b + "attn_v.bias"));
            rotate(q, model.heads, position);
            rotate(k, model.kvHeads, position);
            keys[l][position] = k;
            values[l][position] = v;
            double[] attention = new double[dim];
            for (int h = 0; h < model.heads; h++) {
                int kvHead = h / (model.heads / model.kvHeads);
                double[] scores = new double[position + 1];
                double max = Double.NEGATIVE_INFINITY;
                for (int t = 0; t <= position; t++) {
                    double dot = 0;
                    for (int i = 0; i < headDim; i++) {
                        dot += q[h * headDim + i] * keys[l][t][kvHead * headDim + i];
                    }
                    scores[t] = dot / Math.sqrt(headDim);
                    max = Math.max(max, scores[t]);
                }
                double sum = 0;
                for (int t = 0; t <= position; t++) {
                    scores[t] = Math.exp(scores[t] - max);
                    sum += scores[t];
                }
                for (int t = 0; t <= position; t++) {
                    for (int i = 0; i < headDim; i++) {
                        attention[h * headDim + i] += scores[t] / sum * values[l][t][kvHead * headDim + i];
                    }
                }
            }
            accumulate(x, multiply(w.get(b + "attn_output.weight"), attention));
            xn = rmsNorm(x, w.get(b + "ffn_norm.weight"));
            double[] gate = multiply(w.get(b + "ffn_gate.weight"), xn);
            double[] up = multiply(w.get(b + "ffn_up.weight"), xn);
            for (int i = 0; i < gate.length; i++) {
                gate[i] = gate[i] / (1 + Math.exp(-gate[i])) * up[i];
            }
            accumulate(x, multiply(w.get(b + "ffn_down.weight"), gate));
        }
        float[] output = w.getOrDefault("output.weight", w.get("token_embd.weight"));
        return multiply(output, rmsNorm(x, w.get("output_norm.weight")));
    }

    private void rotate(double[] x, int heads, int position) {
        int headDim = model.headDim();
        int half = headDim / 2;
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < half; i++) {
                double angle = position * Math.pow(model.freqBase, -2.0 * i / headDim);
                int a = h * headDim + (neox ? i : 2 * i);
                int b = a + (neox ? half : 1);
                double x0 = x[a];
                double x1 = x[b];
                x[a] = x0 * Math.cos(angle) - x1 * Math.sin(angle);
                x[b] = x0 * Math.sin(angle) + x1 * Math.cos(angle);
            }
        }
    }

    private double[] rmsNorm(double[] x, float[] weight) {
        double sum = 0;
        for (double value : x) {
            sum += value * value;
        }
        double scale = 1 / Math.sqrt(sum / x.length + model.eps);
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = x[i] * scale * weight[i];
        }
        return out;
    }

    private static double[] multiply(float[] matrix, double[] in) {
        double[] out = new double[matrix.length / in.length];
        for (int r = 0; r < out.length; r++) {
            double sum = 0;
            for (int c = 0; c < in.length; c++) {
                sum += matrix[r * in.length + c] * in[c];
            }
            out[r] = sum;
        }
        return out;
    }

    private static double[] add(double[] x, float[] bias) {
        if (bias != null) {
            for (int i = 0; i < x.length; i++) {
                x[i] += bias[i];
            }
        }
        return x;
    }

    private static void accumulate(double[] x, double[] delta) {
        for (int i = 0; i < x.length; i++) {
            x[i] += delta[i];
        }
    }
}
