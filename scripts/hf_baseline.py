#!/usr/bin/env python3
"""The GPU baseline for Gantry's CUDA numbers: batched Hugging Face generate() on a random-weight LlamaForCausalLM of
the bench-1b shape (what `gantry model synth --preset bench-1b` writes), with a fixed output length.

Prints one JSON object on standard output: the settings and, per batch size, the seconds of one timed generate()
call and its output tokens per second (batch x new tokens / seconds, prefill included, as a serving benchmark
counts output throughput). Progress goes to standard error. Needs torch and transformers and a CUDA device.

    python3 scripts/hf_baseline.py --batches 1,16,64,256 --prompt 80 --new 64 --dtype float16
"""

import argparse
import json
import sys
import time

# bench-1b: the shape of Gantry's benchmark preset of that name.
BENCH_1B = dict(hidden_size=2048, num_hidden_layers=16, num_attention_heads=32, num_key_value_heads=8,
                intermediate_size=8192, vocab_size=32000, max_position_embeddings=4096, rms_norm_eps=1e-5,
                rope_theta=10000.0, tie_word_embeddings=False)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", default="1,16,64,256", help="batch sizes, comma-separated")
    parser.add_argument("--prompt", type=int, default=80, help="prompt tokens of every sequence")
    parser.add_argument("--new", type=int, default=64, help="tokens every sequence generates (min = max)")
    parser.add_argument("--dtype", choices=["float16", "bfloat16"], default="float16")
    parser.add_argument("--repetitions", type=int, default=2, help="timed generate() calls per batch size")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    try:
        args.batches = [int(b) for b in args.batches.split(",")]
    except ValueError:
        parser.error("--batches must be numbers, comma-separated, got " + repr(args.batches))
    if min(args.batches) < 1 or args.prompt < 1 or args.new < 1 or args.repetitions < 1:
        parser.error("--batches, --prompt, --new and --repetitions must be at least 1")
    return args


def log(message):
    print("hf_baseline: " + message, file=sys.stderr, flush=True)


def main(argv):
    args = parse_args(argv)
    import torch
    import transformers
    from transformers import LlamaConfig, LlamaForCausalLM

    if not torch.cuda.is_available():
        log("no CUDA device: torch.cuda.is_available() is False")
        return 1
    dtype = getattr(torch, args.dtype)
    torch.manual_seed(args.seed)
    config = LlamaConfig(**BENCH_1B, torch_dtype=dtype)
    start = time.perf_counter()
    with torch.device("cuda"):
        model = LlamaForCausalLM(config).to(dtype).eval()
    parameters = sum(p.numel() for p in model.parameters())
    log("model: %.3f B parameters, %s, made in %.1f s" % (parameters / 1e9, args.dtype, time.perf_counter() - start))
    # Every sequence generates exactly --new tokens: no end-of-sequence token can stop it.
    generation = dict(min_new_tokens=args.new, max_new_tokens=args.new, do_sample=False, eos_token_id=None,
                      pad_token_id=0, use_cache=True)
    results = []
    for batch in args.batches:
        prompts = torch.randint(3, BENCH_1B["vocab_size"], (batch, args.prompt), device="cuda")
        mask = torch.ones_like(prompts)
        try:
            with torch.inference_mode():
                model.generate(input_ids=prompts, attention_mask=mask, **dict(generation, min_new_tokens=4,
                                                                             max_new_tokens=4))  # warm-up
                times = []
                for _ in range(args.repetitions):
                    torch.cuda.synchronize()
                    began = time.perf_counter()
                    output = model.generate(input_ids=prompts, attention_mask=mask, **generation)
                    torch.cuda.synchronize()
                    times.append(time.perf_counter() - began)
            generated = output.shape[1] - args.prompt
            if generated != args.new:
                raise RuntimeError("generated %d tokens, not %d" % (generated, args.new))
            seconds = min(times)
            row = dict(batch=batch, seconds=seconds, output_tokens_per_second=batch * args.new / seconds,
                       per_stream_tokens_per_second=args.new / seconds, times=times)
        except RuntimeError as e:  # out of memory, or anything else torch raises: the row says so, the rest go on
            row = dict(batch=batch, error=str(e).splitlines()[0])
            torch.cuda.empty_cache()
        log(json.dumps(row))
        results.append(row)
    print(json.dumps(dict(model="random LlamaForCausalLM, bench-1b shape", parameters=parameters, dtype=args.dtype,
                          prompt_tokens=args.prompt, new_tokens=args.new, repetitions=args.repetitions,
                          timing="fastest of the timed generate() calls, prefill included",
                          torch=torch.__version__, transformers=transformers.__version__,
                          device=torch.cuda.get_device_name(0), results=results)))
    return 0 if all("error" not in r for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
