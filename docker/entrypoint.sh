#!/bin/sh
# onnxserve container entrypoint: ENTRYPOINT ["/usr/local/bin/onnxserve-entrypoint.sh"], CMD ["serve"]
# (TorchServe's image: dockerd-entrypoint.sh with CMD ["serve"]).
#
#   serve [flags...]                 the server in the foreground on $TS_CONFIG_FILE, default
#                                    /home/model-server/config.properties (flags are appended)
#   kserve [args...]                 KServe custom runtime: --model_name/--model_dir/--http_port,
#                                    the /mnt/models layout (docs/deployment.md), then serve
#   torchserve|onnxserve [flags...]  the CLI as given; --start gets --foreground added (the server
#                                    must stay in the foreground, it is the container's process)
#   torch-model-archiver|onnxserve-archiver [flags...]   the archiver
#   anything else                    run as given (e.g. `sh`)
#
# Every branch ends in `exec`: node replaces this shell and keeps its PID (1 in a container), so
# SIGTERM from `docker stop` or the kubelet reaches the server itself, which drains (answers not-ready,
# lets requests in progress finish, up to drain_timeout_s) and exits 0.
set -eu

APP="${ONNXSERVE_APP:-/opt/onnxserve}"
CONFIG="${TS_CONFIG_FILE:-/home/model-server/config.properties}"

# State a killed server leaves behind in volumes that outlive the container process (emptyDir,
# named volumes; `docker restart`). Nothing else runs in this container yet, so:
fresh_start() {
  # - a PID file naming our own PID (the old server was PID 1 too) would read as "already running";
  pidfile="${TMPDIR:-/tmp}/.model_server.pid"
  if [ -f "$pidfile" ] && [ "$(cat "$pidfile" 2>/dev/null || true)" = "$$" ]; then
    rm -f "$pidfile"
  fi
  # - archives are extracted into <TEMP>/models/<id>: copies left by a SIGKILL/OOM-killed server
  #   would fill the volume over restarts.
  extract="${TEMP:-${TMPDIR:-/tmp}}/models"
  if [ -d "$extract" ]; then
    rm -rf "$extract" 2>/dev/null || echo "onnxserve-entrypoint: could not remove $extract (not ours?); continuing" >&2
  fi
}

cmd="${1:-serve}"
[ "$#" -gt 0 ] && shift

case "$cmd" in
  serve)
    fresh_start
    # --ncs: the container always names its config, so a snapshot would never be read back
    # (docs/deployment.md, "Config snapshots").
    exec node "$APP/dist/cli/main.js" --start --foreground --ncs --ts-config "$CONFIG" "$@"
    ;;
  kserve)
    fresh_start
    exec node "$APP/dist/cli/kserve-main.js" "$@"
    ;;
  torchserve|onnxserve)
    starting=yes
    foreground=no
    for a in "$@"; do
      case "$a" in
        --foreground) foreground=yes ;;
        --stop|-v|--version|-h|--help) starting=no ;;
      esac
    done
    if [ "$starting" = yes ]; then
      fresh_start
      [ "$foreground" = yes ] || set -- "$@" --foreground
    fi
    exec node "$APP/dist/cli/main.js" "$@"
    ;;
  torch-model-archiver|onnxserve-archiver)
    exec node "$APP/dist/archiver/main.js" "$@"
    ;;
  -*)
    # Flags only (`docker run IMAGE --models iris=iris.mar`): appended to serve.
    fresh_start
    exec node "$APP/dist/cli/main.js" --start --foreground --ncs --ts-config "$CONFIG" "$cmd" "$@"
    ;;
  *)
    exec "$cmd" "$@"
    ;;
esac
