# Shared by the workbench's scripts and the commands in tools/: the settings and pins, the cache
# location and the cache key of each tool, the offline Pulumi environment, progress and checks.
# shellcheck shell=bash
ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
# shellcheck source=workbench/settings.env
source "$ROOT/workbench/settings.env"
# shellcheck source=workbench/toolchain/versions.env
source "$ROOT/workbench/toolchain/versions.env"
# Survives between sessions on the same machine; override with VOTING_APP_CACHE.
VOTING_APP_CACHE=${VOTING_APP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/voting-app}
export VOTING_APP_CACHE
# The local cluster's directory and name (another pair runs a second, separate control plane:
# the test of the cluster's start does).
CLUSTER_DIR=${VOTING_APP_CLUSTER_DIR:-$ROOT/.cluster}
CLUSTER_NAME=${VOTING_APP_CLUSTER_NAME:-$CLUSTER_NAME}
# shellcheck disable=SC2034 # used by the scripts that source this file
LOCAL_CONTEXT="kwok-$CLUSTER_NAME"
# The control plane writes its own kubeconfig here (tools/lib/project_copy.py reads it too).
# shellcheck disable=SC2034 # used by the scripts that source this file
LOCAL_KUBECONFIG="$CLUSTER_DIR/kubeconfig"
# Its certificates (kwokctl writes them): the CA, and the admin pair the API server and nodes use.
# shellcheck disable=SC2034
LOCAL_PKI="$CLUSTER_DIR/kwok/clusters/$CLUSTER_NAME/pki"

# The inputs that decide each tool's build: its pins and the files it is built from.
tool_inputs() {
  case $1 in
    pulumi) echo "$PULUMI_VERSION"; cat "$ROOT"/workbench/toolchain/go/pulumi/go.{mod,sum} ;;
    language-python) cat "$ROOT"/workbench/toolchain/go/language-python/*.go "$ROOT"/workbench/toolchain/go/language-python/go.{mod,sum} ;;
    provider)
      echo "$PULUMI_KUBERNETES_VERSION $PULUMI_KUBERNETES_PROVIDER_MODULE"
      cat "$ROOT"/workbench/toolchain/go/provider/go.{mod,sum} "$ROOT"/workbench/toolchain/provider_embeds.py ;;
    kubernetes) echo "$KUBERNETES_VERSION"; cat "$ROOT"/workbench/toolchain/go/kubernetes/go.{mod,sum} ;;
    kwok) echo "$KWOK_VERSION"; cat "$ROOT"/workbench/toolchain/go/kwok/go.{mod,sum} ;;
    metrics-server) echo "$METRICS_SERVER_VERSION"; cat "$ROOT"/workbench/toolchain/go/metrics-server/go.{mod,sum} ;;
    metallb) echo "$METALLB_VERSION"; cat "$ROOT"/workbench/toolchain/go/metallb/go.{mod,sum} ;;
    actionlint) echo "$ACTIONLINT_VERSION"; cat "$ROOT"/workbench/toolchain/go/actionlint/go.{mod,sum} ;;
    kubernetes-node) echo "$KUBERNETES_VERSION node"; cat "$ROOT"/workbench/toolchain/go/kubernetes/go.{mod,sum} ;;
    containerd) echo "$CONTAINERD_VERSION"; cat "$ROOT"/workbench/toolchain/go/containerd/go.{mod,sum} ;;
    runc) echo "$RUNC_VERSION seccomp"; cat "$ROOT"/workbench/toolchain/go/runc/go.{mod,sum} ;;
    cni-plugins) echo "$CNI_PLUGINS_VERSION"; cat "$ROOT"/workbench/toolchain/go/cni-plugins/go.{mod,sum} ;;
    coredns) echo "$COREDNS_VERSION"; cat "$ROOT"/workbench/toolchain/go/coredns/{go.mod,go.sum,main.go} ;;
    kube-router) echo "$KUBE_ROUTER_VERSION"; cat "$ROOT"/workbench/toolchain/go/kube-router/go.{mod,sum} ;;
    crane) echo "$CRANE_VERSION"; cat "$ROOT"/workbench/toolchain/go/crane/go.{mod,sum} ;;
    crictl) echo "$CRICTL_VERSION"; cat "$ROOT"/workbench/toolchain/go/crictl/go.{mod,sum} ;;
    pause) echo "$PAUSE_VERSION $KUBERNETES_VERSION" ;;
    *) echo "workbench/lib.sh: unknown tool '$1'" >&2; return 1 ;;
  esac
}

# The cache directory of a tool's build: $VOTING_APP_CACHE/tools/<tool>-<hash of its inputs>.
tool_dir() {
  local key
  key=$(tool_inputs "$1" | sha256sum | cut -c1-16)
  echo "$VOTING_APP_CACHE/tools/$1-$key"
}

# PATH entries of the built tools (whether or not they are built yet). Not the provider: Pulumi
# takes it from the plugin install_provider_plugin makes; a plugin on PATH would shadow every
# version. Not the language host either: it is linked beside the CLI.
tools_path() {
  local dirs=()
  for tool in pulumi kubernetes kwok actionlint; do
    dirs+=("$(tool_dir "$tool")/bin")
  done
  (IFS=:; echo "${dirs[*]}")
}

# Pulumi, offline: our CLI and plugins first on PATH, no update check, no plugin downloads, our
# own PULUMI_HOME (plugins) and a local file backend in the checkout (unless one is given).
pulumi_offline_env() {
  PATH="$(tools_path):$ROOT/.venv/bin:$PATH"
  export PATH
  export PULUMI_HOME="$VOTING_APP_CACHE/pulumi-home"
  export PULUMI_SKIP_UPDATE_CHECK=true
  export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
  export PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK=true
  export PULUMI_BACKEND_URL=${PULUMI_BACKEND_URL:-file://$ROOT/.state}
  mkdir -p "$PULUMI_HOME"
  [[ $PULUMI_BACKEND_URL != file://* ]] || mkdir -p "${PULUMI_BACKEND_URL#file://}"
}

# The Python SDK's version (requirements.txt): the least a Pulumi CLI must be.
PULUMI_SDK_VERSION=$(sed -n 's/^pulumi==//p' "$ROOT/requirements.txt")

# Prints the path of the `pulumi` on PATH when it is at least the SDK's version (yours, or the
# workbench's that `eval "$(tools/env)"` puts there); fails when there is none.
users_pulumi() {
  local path version
  path=$(command -v pulumi) || return 1
  version=$(pulumi version 2>/dev/null) || return 1
  version=${version#v}
  [[ $(printf '%s\n%s\n' "$PULUMI_SDK_VERSION" "${version%%[-+]*}" | sort -V | head -n 1) == "$PULUMI_SDK_VERSION" ]] ||
    return 1
  echo "$path"
}

# For --external, which deploys with the user's own CLI and never builds or starts anything:
# prints that CLI's path, or says at once what is missing and how to install it and fails.
# $1 names the command for the message; $2 what was not done ("deployed", "destroyed").
require_users_pulumi() {
  local found path
  found=$(users_pulumi) && { echo "$found"; return 0; }
  if ! path=$(command -v pulumi); then
    found="there is none on PATH"
  else
    found="the one on PATH ($path) is $(pulumi version 2>/dev/null || echo "a version it does not say")"
  fi
  echo "$1: --external needs your own Pulumi CLI at or above $PULUMI_SDK_VERSION (the SDK in" \
    "requirements.txt), and $found. Install it: curl -fsSL https://get.pulumi.com | sh" \
    "(https://www.pulumi.com/docs/iac/download-install/), or run $1 without --external: the" \
    "local cluster with the workbench's offline toolchain. Nothing was $2." >&2
  return 2
}

# Registers the Go-built provider as plugin kubernetes v$PULUMI_KUBERNETES_VERSION (no download).
install_provider_plugin() {
  local plugin="$PULUMI_HOME/plugins/resource-kubernetes-v$PULUMI_KUBERNETES_VERSION"
  local binary
  binary="$(tool_dir provider)/bin/pulumi-resource-kubernetes"
  # The build's cache directory is named by the hash of its inputs: the same directory recorded
  # at install time means the same binary, without reading the 100+ MB of both to compare.
  if [[ -x "$plugin/pulumi-resource-kubernetes" && "$(cat "$plugin/.installed-from" 2>/dev/null)" == "$binary" ]]; then
    return 0
  fi
  echo "==> installing plugin resource kubernetes v$PULUMI_KUBERNETES_VERSION"
  pulumi plugin install resource kubernetes "v$PULUMI_KUBERNETES_VERSION" --file "$binary" --reinstall >/dev/null
  echo "$binary" >"$plugin/.installed-from"
}

# Prints "    ... WHAT: Ns elapsed" every 30 s until it is killed: run it in the background beside
# any step that may take longer than that, and stop it with stop_progress PID.
progress() {
  local what=$1 start=$SECONDS sleeper=""
  trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
  while true; do
    sleep 30 &
    sleeper=$!
    wait "$sleeper"
    echo "    ... $what: $((SECONDS - start))s elapsed"
  done
}

stop_progress() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# True when the process whose pid the file names is alive (a zombie, dead but not yet reaped by
# its parent, is not).
pid_file_alive() {
  [[ -f $1 ]] || return 1
  local stat
  stat=$(cat "/proc/$(cat "$1")/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}

# True when something on this machine listens on TCP port $1.
port_in_use() { ss -Htln "sport = :$1" | grep -q .; }

# Installs the Debian packages named that are not installed yet (apt-get update first, once).
ensure_packages() {
  local missing=() package
  for package in "$@"; do
    dpkg-query -W -f '${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$package")
  done
  [[ ${#missing[@]} -gt 0 ]] || return 0
  echo "==> installing Debian packages: ${missing[*]}"
  local ticker
  progress "installing ${missing[*]}" &
  ticker=$!
  if [[ ${VOTING_APP_APT_UPDATED:-} != yes ]]; then
    apt-get update -qq >/dev/null || { stop_progress "$ticker"; return 1; }
    export VOTING_APP_APT_UPDATED=yes
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    >/dev/null || { stop_progress "$ticker"; return 1; }
  stop_progress "$ticker"
}
