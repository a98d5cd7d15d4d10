#!/usr/bin/env bash
# Packs what a GPU node without Java, Maven or network needs to verify and benchmark the CUDA backend
# (scripts/gpu-check.sh runs it there; docs/cuda.md has the procedure). Run on the build machine:
#   scripts/gpu-pack.sh [DIR]          DIR defaults to .gpu (git-ignored); it is replaced
# DIR then holds:
#   jdk.tar.xz              a jlink-ed JDK 25 runtime (the modules Gantry uses, jdk.incubator.vector included)
#   gantry.tar.gz           the built distribution (bin/ lib/ bundle/ conf/ ...), with PTX kernels in backend-cuda
#   tests/classes/          backend-cuda's test classes (the GPU tests among them)
#   tests/junit-platform-console-standalone.jar
#   models/                 stories260K (+ reference output), the random fixture, the llama SentencePiece vocabulary
#   MANIFEST.txt            what was packed, from which commit
# Environment: MVN_OFFLINE=0 lets the build reach Maven Central (default: offline, -o).
set -euo pipefail

root="$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)"
pack="$(readlink -m "${1:-$root/.gpu}")"
shared_models="$(readlink -m "$root/../shared/models")"
# shellcheck source=distribution/src/main/dist/bin/jdk.sh
source "$root/distribution/src/main/dist/bin/jdk.sh"

# The JDK modules Gantry needs: what jdeps finds in the distribution's jars (the engine's and the REST transport's
# embedded libraries included), and the diagnostic tools (jcmd, JFR) for a run that hangs or is slow.
modules=java.base,java.compiler,java.desktop,java.instrument,java.logging,java.management,java.naming,java.net.http
modules=$modules,java.scripting,java.security.jgss,java.sql,java.xml,jdk.httpserver,jdk.incubator.vector
modules=$modules,jdk.jcmd,jdk.jfr,jdk.management,jdk.naming.dns,jdk.unsupported,jdk.zipfs

offline=-o
[ "${MVN_OFFLINE:-1}" = 0 ] && offline=

die() {
  echo "gpu-pack: $*" >&2
  exit 1
}

command -v nvcc > /dev/null || [ -x /usr/local/cuda/bin/nvcc ] \
  || die "nvcc is not on PATH: backend-cuda would be built without PTX kernels and could not run on the GPU"
[ -f "$shared_models/stories260K.gguf" ] || die "$shared_models/stories260K.gguf is missing"
case "$pack" in
  "$root"|/) die "refusing to replace $pack" ;;
esac

version="$(sed -n 's|^  <version>\(.*\)</version>$|\1|p' "$root/pom.xml" | head -n 1)"
junit_version="$(sed -n 's|.*<junit.jupiter.version>\(.*\)</junit.jupiter.version>.*|\1|p' "$root/pom.xml")"
# JUnit 5.x.y ships with JUnit Platform 1.x.y.
platform_version="1.${junit_version#5.}"

echo "gpu-pack: building the distribution and backend-cuda's test classes (tests not run) ..." >&2
(cd "$root" && mvn -B -q $offline -DskipTests package -pl distribution,bundles/backend-cuda -am)
distribution="$root/distribution/target/gantry-$version"
cuda_jar="$(ls "$distribution"/bundle/gantry-backend-cuda-*.jar)"
unzip -l "$cuda_jar" | grep -q 'ptx/gantry_kernels.compute_90.ptx' \
  || die "$cuda_jar holds no PTX kernels (was nvcc found by the build?)"

rm -rf "$pack"
mkdir -p "$pack/tests" "$pack/models/fixtures" "$pack/models/vocab"

echo "gpu-pack: junit-platform-console-standalone $platform_version ..." >&2
# One artifact, fetched from Maven Central when the local repository lacks it.
(cd "$root" && mvn -B -q dependency:copy \
  -Dartifact="org.junit.platform:junit-platform-console-standalone:$platform_version" \
  -DoutputDirectory="$pack/tests" -Dmdep.stripVersion=true)
cp -r "$root/bundles/backend-cuda/target/test-classes" "$pack/tests/classes"

echo "gpu-pack: jlink (modules: $modules) ..." >&2
runtime="$(mktemp -d)"
trap 'rm -rf "$runtime"' EXIT
"$JAVA_HOME/bin/jlink" --add-modules "$modules" --strip-debug --no-man-pages --no-header-files \
  --compress=zip-0 --output "$runtime/jdk" 2>&1 | grep -v 'Using incubator modules' || true
[ -x "$runtime/jdk/bin/java" ] || die "jlink made no runtime"
# Shared objects keep their symbols in a run-time image; xz compresses the uncompressed module image best.
find "$runtime/jdk" -name '*.so' -exec strip --strip-unneeded {} +
"$runtime/jdk/bin/java" --add-modules jdk.incubator.vector -version 2>&1 | grep -q 'Server VM' \
  || die "the jlink-ed runtime does not start"
echo "gpu-pack: compressing the runtime (xz, about a minute) ..." >&2
tar -C "$runtime" -cJf "$pack/jdk.tar.xz" jdk
tar -C "$(dirname "$distribution")" -czf "$pack/gantry.tar.gz" "$(basename "$distribution")"

cp "$shared_models/stories260K.gguf" "$shared_models/stories260K.expected.txt" "$pack/models/"
cp "$shared_models"/fixtures/* "$pack/models/fixtures/"
cp "$shared_models/vocab/ggml-vocab-llama-spm.gguf" "$pack/models/vocab/"

{
  echo "packed: $(date -u +%FT%TZ) on $(hostname)"
  echo "commit: $(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)$(git -C "$root" status --porcelain \
    2>/dev/null | grep -q . && echo ' (with uncommitted changes)')"
  echo "gantry: $version"
  echo "jdk: $("$JAVA_HOME/bin/java" -version 2>&1 | head -n 1); modules $modules"
  echo "junit platform: $platform_version"
  echo "ptx: $(unzip -l "$cuda_jar" | grep -o 'ptx/[^ ]*\.ptx' | tr '\n' ' ')"
} > "$pack/MANIFEST.txt"

tracked_kb="$(cd "$root" && git ls-files -z --cached --others --exclude-standard \
  | du -ck --files0-from=- 2> /dev/null | tail -n 1 | cut -f 1)"
pack_kb="$(du -sk "$pack" | cut -f 1)"
du -sh "$pack"/* >&2
total_mb=$(( (tracked_kb + pack_kb) / 1024 ))
echo "gpu-pack: $pack: $(( pack_kb / 1024 )) MiB; with the working tree's files ($(( tracked_kb / 1024 )) MiB)" \
  "$total_mb MiB of the 64 MiB a run may carry"
[ "$total_mb" -lt 60 ] || die "$total_mb MiB leaves too little room under 64 MiB"
