# Sourced by bin/gantry, the source tree's ./gantry and .ci/run: sets JAVA_HOME to a JDK 25 or newer.
# Uses JAVA_HOME or the java on PATH when it is new enough; otherwise a JDK 25+ under /usr/lib/jvm,
# saying so; otherwise prints what to do and fails.

gantry_java_feature() { # the feature version (17, 25, ...) of the java binary $1
  "$1" -XshowSettings:properties -version 2>&1 \
    | sed -n 's/^ *java\.specification\.version = \([0-9.]*\).*/\1/p' | sed 's/^1\.//; s/\..*//'
}

gantry_select_jdk() {
  local java version candidate candidate_version
  java="${JAVA_HOME:+$JAVA_HOME/bin/java}"
  java="${java:-$(command -v java || true)}"
  version=""
  if [ -n "$java" ] && [ -x "$java" ]; then
    version="$(gantry_java_feature "$java")"
    if [ -n "$version" ] && [ "$version" -ge 25 ]; then
      JAVA_HOME="$(dirname "$(dirname "$(readlink -f "$java")")")"
      export JAVA_HOME
      return 0
    fi
  fi
  for candidate in /usr/lib/jvm/*/bin/java; do
    [ -x "$candidate" ] || continue
    candidate_version="$(gantry_java_feature "$candidate")"
    if [ -n "$candidate_version" ] && [ "$candidate_version" -ge 25 ]; then
      JAVA_HOME="$(dirname "$(dirname "$(readlink -f "$candidate")")")"
      export JAVA_HOME
      echo "gantry: ${java:-no java} is Java ${version:-unknown}; using JDK $candidate_version at $JAVA_HOME instead." >&2
      return 0
    fi
  done
  echo "gantry: ${java:-no java found}${version:+ is Java $version}, but Gantry needs JDK 25 or newer." >&2
  echo "        Install a JDK 25 and point JAVA_HOME at it, e.g. export JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64" >&2
  return 1
}

gantry_select_jdk
