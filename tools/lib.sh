# Shared by the tools/ scripts: the pins, the cache location and the cache key of each tool.
# shellcheck shell=bash
ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
# shellcheck source=tools/versions.env
source "$ROOT/tools/versions.env"
# Survives between sessions on the same machine; override with VOTING_APP_CACHE.
VOTING_APP_CACHE=${VOTING_APP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/voting-app}
export VOTING_APP_CACHE
# tools/cluster writes the local control plane's own kubeconfig here (tools/project_copy.py too).
LOCAL_KUBECONFIG="$ROOT/.cluster/kubeconfig"

# The inputs that decide each tool's build: its pins and the files it is built from.
tool_inputs() {
  case $1 in
    pulumi) echo "$PULUMI_VERSION"; cat "$ROOT"/tools/go/pulumi/go.{mod,sum} ;;
    language-python) cat "$ROOT"/tools/go/language-python/*.go "$ROOT"/tools/go/language-python/go.{mod,sum} ;;
    provider)
      echo "$PULUMI_KUBERNETES_VERSION $PULUMI_KUBERNETES_PROVIDER_MODULE"
      cat "$ROOT"/tools/go/provider/go.{mod,sum} "$ROOT"/tools/provider_embeds.py ;;
    kubernetes) echo "$KUBERNETES_VERSION"; cat "$ROOT"/tools/go/kubernetes/go.{mod,sum} ;;
    kwok) echo "$KWOK_VERSION"; cat "$ROOT"/tools/go/kwok/go.{mod,sum} ;;
    actionlint) echo "$ACTIONLINT_VERSION"; cat "$ROOT"/tools/go/actionlint/go.{mod,sum} ;;
    *) echo "tools/lib.sh: unknown tool '$1'" >&2; return 1 ;;
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
  export PATH="$(tools_path):$ROOT/.venv/bin:$PATH"
  export PULUMI_HOME="$VOTING_APP_CACHE/pulumi-home"
  export PULUMI_SKIP_UPDATE_CHECK=true
  export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
  export PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK=true
  export PULUMI_BACKEND_URL=${PULUMI_BACKEND_URL:-file://$ROOT/.state}
  mkdir -p "$PULUMI_HOME"
  [[ $PULUMI_BACKEND_URL != file://* ]] || mkdir -p "${PULUMI_BACKEND_URL#file://}"
}

# Registers the Go-built provider as plugin kubernetes v$PULUMI_KUBERNETES_VERSION (no download).
install_provider_plugin() {
  local plugin="$PULUMI_HOME/plugins/resource-kubernetes-v$PULUMI_KUBERNETES_VERSION"
  local binary
  binary="$(tool_dir provider)/bin/pulumi-resource-kubernetes"
  if [[ -x "$plugin/pulumi-resource-kubernetes" ]] && cmp -s "$binary" "$plugin/pulumi-resource-kubernetes"; then
    return 0
  fi
  echo "==> installing plugin resource kubernetes v$PULUMI_KUBERNETES_VERSION"
  pulumi plugin install resource kubernetes "v$PULUMI_KUBERNETES_VERSION" --file "$binary" --reinstall >/dev/null
}
