#!/bin/sh
# Entry point of the project's image: the first argument names the program (mlfo, flower-adapter,
# mlfo-topo, sendintent), the rest are its arguments; configuration comes from the MLFO_* and
# FLOWER_ADAPTER_* environment variables. Anything else runs as a command (e.g. `sh`).
set -e
cd /app
case "${1:-}" in
  mlfo | flower-adapter | mlfo-topo | sendintent)
    program="$1"
    shift
    if [ "$program" = flower-adapter ]; then
      # as bin/flower-adapter.mjs's shebang: a small young generation keeps a node's memory down
      exec node --max-semi-space-size=2 "bin/$program.mjs" "$@"
    fi
    exec node "bin/$program.mjs" "$@"
    ;;
  "")
    echo "usage: <mlfo|flower-adapter|mlfo-topo|sendintent> [arguments]" >&2
    exit 2
    ;;
  *)
    exec "$@"
    ;;
esac
