#!/usr/bin/env bash
# Verifies and benchmarks the CUDA backend on a GPU node that has no Java, Maven or network, from what
# scripts/gpu-pack.sh put in .gpu/ (docs/cuda.md has the procedure). Run from the repository root:
#   scripts/gpu-check.sh OUTDIR [PHASE...]        (default phases: info tests)
# Phases, each bounded in time; several may run in one call, within the call's budget:
#   info      GPU, driver, CUDA, JDK; the CUDA backend's one line, from the tools and from the server
#   tests     backend-cuda's tests (CudaKernelsGpuTest, CudaModelGpuTest and the rest) on the JUnit console
#   models    bench-1b F16 and Q8_0 made with model synth / model quantize, cached under the work folder
#   bench-model   bench-model on CUDA of both: pp128, tg64 (single stream), tg64 at batch 1/16/64/256, the
#             weight bandwidth decode achieves and the device copy bandwidth
#   compare   output throughput of the serving core (bench compare, continuous batching) on bench-1b F16 at
#             concurrency 1, 16, 64, 256: prompts of 80 tokens, 64 output tokens
#   bench     models, bench-model and compare
#   baseline  scripts/hf_baseline.py: Hugging Face generate() on a random bench-1b, batch 1/16/64/256, 80 + 64 tokens
#   serve     the server on bench-1b F16 (CUDA): open-loop Poisson arrivals at 200 requests/s of short requests
#             (16 words, 32 tokens out) for p95 TTFT, and one stream alone for its tokens/s
#   all       every phase, in this order: info tests bench baseline serve
# OUTDIR gets results.md (one row per check, failures included) and logs.tar.gz (every log); both are rewritten
# after each phase, so a call cut short still returns what it did.
# Environment: GANTRY_GPU_PACK (default .gpu), GANTRY_GPU_WORK (default /tmp/gantry-gpu: unpacked runtime and
# distribution, models, logs; kept while the machine is), GANTRY_CHECK_BUDGET (seconds for the whole call, default
# 570).
set -uo pipefail

root="$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)"
pack="$(readlink -m "${GANTRY_GPU_PACK:-$root/.gpu}")"
work="$(readlink -m "${GANTRY_GPU_WORK:-/tmp/gantry-gpu}")"
budget="${GANTRY_CHECK_BUDGET:-570}"
started=$SECONDS

if [ $# -lt 1 ] || [ "${1:-}" = --help ] || [ "${1:-}" = -h ]; then
  sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
fi
out="$(readlink -m "$1")"
shift
phases=("$@")
[ ${#phases[@]} -gt 0 ] || phases=(info tests)
expanded=()
for phase in "${phases[@]}"; do
  case "$phase" in
    all) expanded+=(info tests models bench-model compare baseline serve) ;;
    bench) expanded+=(models bench-model compare) ;;
    info|tests|models|bench-model|compare|baseline|serve) expanded+=("$phase") ;;
    *) echo "gpu-check: unknown phase '$phase' (info tests models bench-model compare bench baseline serve all)" >&2
       exit 2 ;;
  esac
done

mkdir -p "$out" "$work/logs" "$work/models"
logs="$work/logs"
results="$out/results.md"
failures=0
server_pid=
if [ ! -f "$results" ]; then
  {
    echo "# Gantry CUDA check, $(date -u +%FT%TZ), $(hostname)"
    echo
    echo "| phase | check | result | detail |"
    echo "|---|---|---|---|"
  } > "$results"
fi

# row PHASE CHECK RESULT DETAIL: one line of the table (RESULT: PASS, FAIL, SKIP or a value).
row() {
  local detail="${4//|/\\|}"
  detail="${detail//$'\n'/ }"
  echo "| $1 | $2 | $3 | ${detail:0:400} |" >> "$results"
  [ "$3" = FAIL ] && failures=$((failures + 1))
  echo "gpu-check: [$1] $2: $3 ${detail:0:200}" >&2
}

# Seconds left in this call, less a margin to write the results.
left() {
  echo $(( budget - (SECONDS - started) - 10 ))
}

# limit SECONDS: the smaller of SECONDS and what is left of the call.
limit() {
  local remaining
  remaining="$(left)"
  echo $(( $1 < remaining ? $1 : remaining ))
}

# bounded PHASE CHECK SECONDS LOG COMMAND...: runs COMMAND with its output in LOG, at most SECONDS (and never past the
# call's budget); a time-out or a failure becomes a FAIL row. Returns the command's status.
bounded() {
  local phase="$1" check="$2" seconds log="$4" status
  seconds="$(limit "$3")"
  shift 4
  if [ "$seconds" -lt 5 ]; then
    row "$phase" "$check" SKIP "no time left in this call"
    return 124
  fi
  echo "\$ $*" >> "$log"
  timeout --kill-after=10 "$seconds" "$@" >> "$log" 2>&1
  status=$?
  if [ $status -eq 124 ] || [ $status -eq 137 ]; then
    row "$phase" "$check" FAIL "timed out after $seconds s (log: $(basename "$log"))"
  elif [ $status -ne 0 ]; then
    row "$phase" "$check" FAIL "exit status $status: $(grep -v '^\$ \|WARNING: Using incubator' "$log" \
      | tail -n 3 | tr '\n' ' ')"
  fi
  return $status
}

save() {
  tar -C "$work" -czf "$out/logs.tar.gz" logs 2> /dev/null
}

stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2> /dev/null; then
    kill "$server_pid"
    for _ in $(seq 30); do
      kill -0 "$server_pid" 2> /dev/null || break
      sleep 1
    done
    kill -0 "$server_pid" 2> /dev/null && kill -9 "$server_pid"
  fi
  server_pid=
}

trap 'stop_server; save' EXIT
trap 'exit 143' TERM INT

# Unpacks the runtime and the distribution once per machine (again when the pack changed).
setup() {
  local stamp
  [ -f "$pack/MANIFEST.txt" ] || { row setup pack FAIL "$pack/MANIFEST.txt missing: run scripts/gpu-pack.sh and carry .gpu"; return 1; }
  stamp="$(cksum < "$pack/MANIFEST.txt")"
  if [ "$(cat "$work/stamp" 2> /dev/null)" != "$stamp" ]; then
    rm -rf "$work/jdk" "$work"/gantry-*
    if ! tar -C "$work" -xJf "$pack/jdk.tar.xz" 2> "$logs/setup.log"; then
      python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$pack/jdk.tar.xz" "$work" \
        >> "$logs/setup.log" 2>&1 || { row setup runtime FAIL "could not unpack jdk.tar.xz"; return 1; }
    fi
    tar -C "$work" -xzf "$pack/gantry.tar.gz" >> "$logs/setup.log" 2>&1 \
      || { row setup distribution FAIL "could not unpack gantry.tar.gz"; return 1; }
    echo "$stamp" > "$work/stamp"
  fi
  export JAVA_HOME="$work/jdk"
  export PATH="$JAVA_HOME/bin:$PATH"
  distribution=
  for distribution in "$work"/gantry-*/; do
    distribution="${distribution%/}"
  done
  gantry="$distribution/bin/gantry"
  [ -x "$gantry" ] || { row setup distribution FAIL "no bin/gantry in $work"; return 1; }
}

# server_start HOME LOG: starts the server of HOME in the background; waits until it serves /v1/models.
server_start() {
  local home="$1" log="$2" port
  port="$(sed -n 's/^port *= *//p' "$home/conf/io.gantry.transport.rest.cfg")"
  "$home/bin/gantry" > "$log" 2>&1 &
  server_pid=$!
  for _ in $(seq "$(limit 240)"); do
    if python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
        "http://127.0.0.1:$port/v1/models" 2> /dev/null; then
      return 0
    fi
    kill -0 "$server_pid" 2> /dev/null || return 1
    sleep 1
  done
  return 1
}

# server_home NAME MODEL: a copy of the distribution whose server serves MODEL on port 18080, CUDA pinned.
server_home() {
  local home="$work/$1"
  rm -rf "$home"
  cp -r "$distribution" "$home"
  sed -i 's/^port *=.*/port = 18080/' "$home/conf/io.gantry.transport.rest.cfg"
  echo "backend.target = (gantry.plugin.name=cuda)" >> "$home/conf/io.gantry.engine.plugins.cfg"
  if [ -n "${2:-}" ]; then
    {
      echo "models = $2"
      echo "maxNumSeqs = 256"
      echo "maxNumBatchedTokens = 2048"
      echo "maxWaiting = 8192"
      echo "kvCacheMb = 16384"
    } >> "$home/conf/io.gantry.engine.cfg"
  fi
  echo "$home"
}

# The CUDA backend's one line in a server log.
cuda_line() {
  grep -m 1 -o 'CUDA backend \(started\|unavailable\).*' "$1" || true
}

phase_info() {
  local log="$logs/info.log" smi line
  : > "$log"
  if command -v nvidia-smi > /dev/null; then
    nvidia-smi >> "$log" 2>&1
    smi="$(nvidia-smi --query-gpu=name,memory.total,compute_cap,driver_version --format=csv,noheader 2>&1 | head -n 1)"
    row info GPU "$smi" "$(nvidia-smi 2> /dev/null | grep -o 'CUDA Version: [0-9.]*' | head -n 1)"
  else
    row info GPU FAIL "nvidia-smi not found: no NVIDIA driver on this machine"
  fi
  row info JDK "$("$JAVA_HOME/bin/java" -version 2>&1 | sed -n 2p)" "$(sed -n 's/^commit: //p' "$pack/MANIFEST.txt")"
  local model="$pack/models/stories260K.gguf" cpu_text="$logs/info-generate-cpu.txt" cuda_text="$logs/info-generate-cuda.txt"
  # Not through bounded: the backend's own line is the row, whichever way it went.
  timeout --kill-after=10 "$(limit 120)" "$gantry" generate --model "$model" --prompt "Once upon a time" \
    --max-tokens 64 --temperature 0 --backend cuda > /dev/null 2>> "$log"
  if line="$(grep -m 1 -o 'CUDA backend unavailable.*' "$log")"; then
    row info "tools --backend cuda" FAIL "$line"
  elif ! line="$(grep -m 1 -o 'loaded in .*' "$log")"; then
    row info "tools --backend cuda" FAIL "$(grep -v 'Using incubator' "$log" | tail -n 3 | tr '\n' ' ')"
  else
    row info "tools --backend cuda" PASS "stories260K $line"
    "$gantry" generate --model "$model" --prompt "Once upon a time" --max-tokens 64 --temperature 0 \
      --backend cpu > "$cpu_text" 2>> "$log"
    "$gantry" generate --model "$model" --prompt "Once upon a time" --max-tokens 64 --temperature 0 \
      --backend cuda > "$cuda_text" 2>> "$log"
    if cmp -s "$cpu_text" "$cuda_text"; then
      row info "greedy text, cpu = cuda" PASS "stories260K, 64 tokens: $(head -c 80 "$cuda_text")..."
    else
      row info "greedy text, cpu = cuda" FAIL "differ: cpu '$(head -c 60 "$cpu_text")' cuda '$(head -c 60 "$cuda_text")'"
    fi
  fi
  local home server_log="$logs/info-server.log"
  home="$(server_home info-home)"
  if server_start "$home" "$server_log"; then
    line="$(cuda_line "$server_log")"
    case "$line" in
      "CUDA backend started"*) row info "server (OSGi) backend" PASS "$line" ;;
      *) row info "server (OSGi) backend" FAIL "${line:-no CUDA backend line in the log}; $(grep -m 1 -o \
        'backend.target .*falling back.*' "$server_log")" ;;
    esac
  else
    row info "server (OSGi) backend" FAIL "the server did not serve /v1/models: $(tail -n 2 "$server_log")"
  fi
  stop_server
}

phase_tests() {
  local log="$logs/tests.log" reports="$logs/tests-reports" classpath jar
  rm -rf "$reports"
  : > "$log"
  classpath="$pack/tests/classes"
  for jar in gantry-plugin-api gantry-engine gantry-backend-cpu gantry-jcuda gantry-backend-cuda; do
    classpath="$classpath:$(ls "$distribution/bundle/$jar"-[0-9]*.jar)"
  done
  # org.osgi.framework, for the component's test.
  classpath="$classpath:$(ls "$distribution"/lib/org.apache.felix.framework-*.jar)"
  bounded tests "JUnit console" 480 "$log" "$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector \
    --enable-native-access=ALL-UNNAMED -Dgantry.shared.models="$pack/models" \
    -jar "$pack/tests/junit-platform-console-standalone.jar" execute --disable-banner --disable-ansi-colors \
    --details=tree --class-path "$classpath" --scan-class-path "$pack/tests/classes" \
    --include-engine=junit-jupiter --reports-dir "$reports"
  local summary
  summary="$(grep -o '[0-9]* \(tests\|containers\) \(successful\|failed\|aborted\|skipped\)' "$log" | tr '\n' ',' | sed 's/,$//; s/,/, /g')"
  local verdict=PASS
  grep -q '[1-9][0-9]* \(tests\|containers\) aborted' "$log" && verdict="PASS, with skips"
  grep -q '[1-9][0-9]* \(tests\|containers\) failed' "$log" && verdict=FAIL
  [ -n "$summary" ] && row tests summary "$verdict" "$summary"
  # One row per test class: how many passed, failed and were skipped (with the reason), and the first failure.
  python3 - "$reports" >> "$results" <<'EOF'
import glob, sys, xml.etree.ElementTree as ET
classes = {}
for report in glob.glob(sys.argv[1] + "/*.xml"):
    for case in ET.parse(report).getroot().iter("testcase"):
        name = case.get("classname", "?").rsplit(".", 1)[-1]
        c = classes.setdefault(name, dict(passed=0, failed=[], skipped=[]))
        problem = case.find("failure") if case.find("failure") is not None else case.find("error")
        skipped = case.find("skipped")
        if problem is not None:
            message = (problem.get("message") or problem.text or "").strip().splitlines()
            c["failed"].append(case.get("name") + ": " + (message[0] if message else "?"))
        elif skipped is not None:
            message = (skipped.get("message") or skipped.text or "").strip().splitlines()
            c["skipped"].append(message[0] if message else "?")
        else:
            c["passed"] += 1
def cell(text):
    return text.replace("|", "\\|")[:300]
for name, c in sorted(classes.items()):
    result = "FAIL" if c["failed"] else "SKIP" if c["skipped"] and not c["passed"] else "PASS"
    detail = "%d passed, %d failed, %d skipped" % (c["passed"], len(c["failed"]), len(c["skipped"]))
    if c["failed"]:
        detail += "; first failure: " + c["failed"][0]
    if c["skipped"]:
        detail += "; skipped: " + c["skipped"][0]
    print("| tests | %s | %s | %s |" % (name, result, cell(detail)))
EOF
  grep -q '^| tests | .* | FAIL |' "$results" && failures=$((failures + 1))
  [ -n "$summary" ] || row tests summary FAIL "no JUnit summary: $(tail -n 3 "$log" | tr '\n' ' ')"
}

# Models are made once per machine; a later call reuses them while the machine is warm.
phase_models() {
  local log="$logs/models.log" f16="$work/models/bench-1b-f16.gguf" q8="$work/models/bench-1b-q8_0.gguf" began
  if [ -f "$f16" ]; then
    row models "synth bench-1b F16" PASS "cached: $f16"
  else
    began=$SECONDS
    bounded models "synth bench-1b F16" 300 "$log" "$gantry" model synth --preset bench-1b --type f16 \
      --vocab-from "$pack/models/vocab/ggml-vocab-llama-spm.gguf" --output "$f16" --force \
      && row models "synth bench-1b F16" PASS "$(du -h "$f16" | cut -f 1) in $((SECONDS - began)) s, $(nproc) threads"
  fi
  if [ -f "$q8" ]; then
    row models "quantize bench-1b Q8_0" PASS "cached: $q8"
  elif [ -f "$f16" ]; then
    began=$SECONDS
    bounded models "quantize bench-1b Q8_0" 200 "$log" "$gantry" model quantize --input "$f16" --type q8_0 \
      --output "$q8" --force \
      && row models "quantize bench-1b Q8_0" PASS "$(du -h "$q8" | cut -f 1) in $((SECONDS - began)) s, $(nproc) threads"
  fi
}

phase_bench_model() {
  local type model log
  [ -f "$work/models/bench-1b-q8_0.gguf" ] || phase_models
  for type in f16 q8_0; do
    model="$work/models/bench-1b-$type.gguf"
    log="$logs/bench-model-$type.log"
    : > "$log"
    [ -f "$model" ] || { row bench-model "bench-1b $type" SKIP "no model (see the models rows)"; continue; }
    if bounded bench-model "bench-1b $type" 240 "$log" "$gantry" bench-model --model "$model" --backend cuda \
        --batches 1,16,64,256 --repetitions 3; then
      # The llama-bench table's rows: | model | size | params | backend | threads | test | t/s |
      awk -F ' [|] ' -v type="$type" '/^\| .* \| cuda \|/ { sub(/ \|$/, "", $7); printf "| bench-model | bench-1b %s %s | %s tok/s | |\n", type, $6, $7 }' \
        "$log" >> "$results"
      row bench-model "bench-1b $type decode bandwidth" "$(grep -o 'tg64 [0-9.]* GB/s' "$log" | head -n 1 \
        | sed 's/tg64 //')" "$(grep -m 1 '^Decode steps read' "$log")"
      [ "$type" = f16 ] && row bench-model "device copy bandwidth" "$(grep -m 1 -o '[0-9.]* GB/s\.$' "$log" \
        | tr -d .)" "$(grep -m 1 '^Device memory bandwidth' "$log")"
    fi
    save
  done
}

phase_compare() {
  local model="$work/models/bench-1b-f16.gguf" concurrency requests log report
  [ -f "$model" ] || phase_models
  [ -f "$model" ] || { row compare "bench-1b f16" SKIP "no model (see the models rows)"; return; }
  for concurrency in 1 16 64 256; do
    requests=$(( concurrency < 4 ? 8 : 2 * concurrency ))
    log="$logs/compare-c$concurrency.log"
    report="$logs/compare-c$concurrency"
    : > "$log"
    rm -rf "$report"
    if bounded compare "bench-1b F16 c$concurrency" 150 "$log" "$gantry" bench compare --backend cuda \
        --model "$model" --strategies continuous --requests "$requests" --concurrency "$concurrency" \
        --prompt-tokens 80 --max-tokens 64 --max-num-seqs "$concurrency" --max-num-batched-tokens 2048 \
        --kv-cache-mb 8192 --output "$report"; then
      python3 - "$report/report.json" "$concurrency" "$requests" >> "$results" <<'EOF'
import json, sys
result = json.load(open(sys.argv[1]))["results"][0]
print("| compare | bench-1b F16 c%s (%s requests, 80+64 tokens) | %.1f output tok/s | %d/%d completed in %.1f s; "
      "TTFT p95 %.0f ms; TPOT p50 %.1f ms (%.0f tok/s a stream)%s |" % (
          sys.argv[2], sys.argv[3], result["output_throughput"], result["completed"], result["requests"],
          result["duration_seconds"], result["ttft_ms"]["p95"], result["tpot_ms"]["p50"],
          1000 / result["tpot_ms"]["p50"] if result["tpot_ms"]["p50"] else 0,
          "; stopped: " + result["error"] if result.get("error") else ""))
EOF
      rm -f "$report"/*.png "$report"/report.html
    fi
    save
  done
}

phase_baseline() {
  local log="$logs/baseline.log" json="$logs/hf_baseline.json"
  : > "$log"
  bounded baseline "hf generate()" 420 "$log" sh -c "python3 '$root/scripts/hf_baseline.py' --batches 1,16,64,256 \
    --prompt 80 --new 64 --dtype float16 > '$json'"
  [ -s "$json" ] && python3 - "$json" >> "$results" <<'EOF'
import json, sys
data = json.load(open(sys.argv[1]))
for r in data["results"]:
    if "error" in r:
        print("| baseline | HF generate() b%d | FAIL | %s |" % (r["batch"], r["error"].replace("|", "\\|")[:300]))
    else:
        print("| baseline | HF generate() b%d (80+64 tokens, %s) | %.1f output tok/s | %.2f s; %.0f tok/s a stream; "
              "torch %s, transformers %s |" % (r["batch"], data["dtype"], r["output_tokens_per_second"], r["seconds"],
                                               r["per_stream_tokens_per_second"], data["torch"], data["transformers"]))
EOF
}

phase_serve() {
  local model="$work/models/bench-1b-f16.gguf" home log="$logs/serve.log" server_log="$logs/serve-server.log" line
  [ -f "$model" ] || phase_models
  [ -f "$model" ] || { row serve server SKIP "no model (see the models rows)"; return; }
  : > "$log"
  home="$(server_home serve-home "$model")"
  if ! server_start "$home" "$server_log"; then
    row serve server FAIL "did not serve /v1/models: $(tail -n 2 "$server_log" | tr '\n' ' ')"
    stop_server
    return
  fi
  line="$(cuda_line "$server_log")"
  case "$line" in
    "CUDA backend started"*) row serve server PASS "bench-1b F16, $line" ;;
    *) row serve server FAIL "not on CUDA, no serving numbers: ${line:-no CUDA backend line}"; stop_server; return ;;
  esac
  local url=http://127.0.0.1:18080
  bounded serve "one stream (64 tokens out)" 120 "$log" "$gantry" bench serve --url "$url" --concurrency 1 \
    --requests 8 --warmup 2 --prompt-words 64 --max-tokens 64 --ignore-eos --output-json "$logs/serve-c1.json" \
    && serve_row "one stream (64 tokens out)" "$logs/serve-c1.json"
  bounded serve "200 req/s, 16 words + 32 tokens, 20 s" 150 "$log" "$gantry" bench serve --url "$url" \
    --request-rate 200 --duration 20 --requests 100000 --warmup 64 --prompt-words 16 --max-tokens 32 --ignore-eos \
    --output-json "$logs/serve-rate200.json" \
    && serve_row "200 req/s, 16 words + 32 tokens, 20 s" "$logs/serve-rate200.json"
  stop_server
}

# serve_row CHECK JSON: the targets' numbers from a bench serve result file.
serve_row() {
  python3 - "$2" "$1" >> "$results" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
tpot = r.get("median_tpot_ms")
stream = 1000 / tpot if tpot else float("nan")
ok = r["failed"] == 0 and (r.get("p95_ttft_ms") or 1e9) <= 500 and stream >= 100
print("| serve | %s | %s | %.1f req/s, %d ok, %d failed; TTFT p95 %.0f ms (target <= 500); E2E p95 %.0f ms; "
      "TPOT p50 %.1f ms = %.0f tok/s a stream (target >= 100); %.0f output tok/s |" % (
          sys.argv[2], "PASS" if ok else "MISS", r.get("request_throughput") or 0, r["completed"], r["failed"],
          r.get("p95_ttft_ms") or float("nan"), r.get("p95_e2el_ms") or float("nan"), tpot or float("nan"), stream,
          r.get("output_throughput") or 0))
EOF
}

if setup; then
  for phase in "${expanded[@]}"; do
    if [ "$(left)" -lt 20 ]; then
      row "$phase" phase SKIP "no time left in this call (budget $budget s)"
      continue
    fi
    echo "gpu-check: phase $phase ($(left) s left in this call)" >&2
    began=$SECONDS
    "phase_${phase//-/_}"
    echo "| $phase | (phase time) | $((SECONDS - began)) s | |" >> "$results"
    save
  done
fi
echo >&2
cat "$results"
[ "$failures" -eq 0 ] && ! grep -q '| FAIL |' "$results"
