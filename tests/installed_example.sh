#!/usr/bin/env bash
# installed_example.sh — libpdiff as a third party uses it: install the
# build into a temporary prefix, compile examples/train_sample.c with
# nothing but `pkg-config --cflags --libs pdiff`, run it against the
# shared library (train, sample, save, load, the same bits), then link it
# statically (libpdiff.a with `pkg-config --static --libs`) and run that;
# the same for examples/net_checkpoint.c (the task-network API).
# Usage: installed_example.sh <pdiff-cli> <source-dir>.
set -euo pipefail
cli=$1
src=$2
build=$(dirname "$cli")
command -v pkg-config >/dev/null || { echo "skipped: pkg-config not installed"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
pc=$(dirname "$(find "$tmp/prefix" -name pdiff.pc)")
export PKG_CONFIG_PATH=$pc
flags=$(pkg-config --cflags --libs pdiff)
# a sanitizer build's library needs the sanitizer runtimes in the program
san=()
py_env=()
source "$src/tests/sanitizer_env.bash"
if sanitized_build "$build"; then
  san=(-fsanitize=address,undefined)
  # python itself is not instrumented: the runtimes must be loaded first
  py_env=("LD_PRELOAD=$SANITIZER_PRELOAD" ASAN_OPTIONS=detect_leaks=0)
fi
echo "pkg-config --cflags --libs pdiff: $flags"
case "$flags" in *"$src/src"*) echo "FAIL: the installed flags point into the source tree"; exit 1;; esac
soname=$(find "$tmp/prefix" -name 'libpdiff.so.0' | head -1)
[ -n "$soname" ] || { echo "FAIL: no libpdiff.so.0 installed"; exit 1; }
# only the public API is exported
if nm -D --defined-only "$soname" | awk '{print $3}' | grep -v '^pd_\|^_' | grep -q .; then
  echo "FAIL: libpdiff.so exports symbols outside pd_*"; exit 1
fi
if nm -D --defined-only "$soname" | grep -q ' pd_ae_train_step$'; then
  echo "FAIL: an engine function (pd_ae_train_step) is exported"; exit 1
fi
cc -std=c11 -Wall -Wextra -Werror "${san[@]}" "$src/examples/train_sample.c" $flags -lm -o "$tmp/shared"
LD_LIBRARY_PATH=$(dirname "$soname") PDIFF_THREADS=2 "$tmp/shared" "$tmp/model_shared"
lib=$(dirname "$soname")
cc -std=c11 -Wall -Wextra -Werror "${san[@]}" "$src/examples/train_sample.c" $(pkg-config --cflags pdiff) \
  "$lib/libpdiff.a" $(pkg-config --static --libs pdiff | sed 's/-lpdiff\b//') -o "$tmp/static"
if ldd "$tmp/static" | grep -q libpdiff; then echo "FAIL: the static build loads libpdiff.so"; exit 1; fi
PDIFF_THREADS=2 "$tmp/static" "$tmp/model_static"
# the task-network and file API (pdiff_net.h, pdiff_io.h): train, save,
# load, the same predictions
cc -std=c11 -Wall -Wextra -Werror "${san[@]}" "$src/examples/net_checkpoint.c" $flags -lm -o "$tmp/net"
LD_LIBRARY_PATH=$(dirname "$soname") PDIFF_THREADS=2 "$tmp/net" "$tmp/net_out"
# the installed Python package finds the installed library by itself
if /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
  found=$(cd "$tmp" && env -u PDIFF_LIBRARY "${py_env[@]}" PYTHONPATH="$tmp/prefix/lib/python3/dist-packages" \
    /usr/bin/python3 -c 'import pdiff; print(pdiff.library_path)')
  case "$found" in "$tmp/prefix/"*) echo "python: $found";;
    *) echo "FAIL: the installed pdiff package loaded '$found'"; exit 1;; esac
fi
