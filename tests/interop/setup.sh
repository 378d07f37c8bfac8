#!/bin/sh
# setup.sh DIR - install a real llama.cpp (npm's node-llama-cpp with its prebuilt CPU
# binary for linux-x64, ~85 MB) into DIR/node_modules once; later calls reuse it.
# Used by tests/test_llamacpp.c. Exits non-zero with a clear message when node/npm are
# missing or the npm registry cannot be reached: the comparison must not pass silently.
set -u
dir=$1
version=3.22.1
marker="$dir/.installed-node-llama-cpp-$version"
# the marker is written only after a complete install, so an interrupted one is redone
[ -f "$marker" ] && [ -f "$dir/node_modules/@node-llama-cpp/linux-x64/package.json" ] && exit 0
for tool in node npm; do
    if ! command -v $tool >/dev/null 2>&1; then
        echo "setup.sh: '$tool' is not installed: the llama.cpp comparison needs Node.js >= 18 and npm (scripts/install-deps --test)" >&2
        exit 1
    fi
done
case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) ;;
    *) echo "setup.sh: node-llama-cpp's prebuilt binary used here is for linux-x64 only, not $(uname -s)-$(uname -m)" >&2; exit 1 ;;
esac
mkdir -p "$dir" || exit 1
[ -f "$dir/package.json" ] || echo '{"private": true, "type": "module"}' > "$dir/package.json"
echo "setup.sh: installing node-llama-cpp@$version into $dir (once, ~85 MB)" >&2
if ! (cd "$dir" && npm install --omit=optional --no-audit --no-fund --loglevel=error \
        "node-llama-cpp@$version" "@node-llama-cpp/linux-x64@$version" >npm-install.log 2>&1); then
    echo "setup.sh: npm install of node-llama-cpp@$version failed (is the npm registry reachable?); log:" >&2
    tail -n 20 "$dir/npm-install.log" >&2
    exit 1
fi
if [ ! -f "$dir/node_modules/node-llama-cpp/package.json" ] || [ ! -f "$dir/node_modules/@node-llama-cpp/linux-x64/package.json" ]; then
    echo "setup.sh: npm install finished but node-llama-cpp or its linux-x64 binary is missing (see $dir/npm-install.log)" >&2
    exit 1
fi
touch "$marker"
exit 0
