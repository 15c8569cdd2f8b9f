#!/usr/bin/env bash
# bad_inputs.sh — drives the pdiff CLI with broken inputs and requires a
# clean refusal from each: a non-zero exit that is not a signal, exactly one
# stderr line starting "pdiff: " that names the file or the problem (for
# stages that fail before any progress output: stderr is that line alone;
# for failures mid-run, such as a full disk, it is the last line), no
# *.tmp.* files anywhere, and no output directory or half-written file.
#
# Inputs: safetensors files truncated, byte-flipped, empty, with a huge or
# non-JSON header, wrong shapes, unknown tensor names, NaN/Inf values (via
# `pdiff inspect` and as checkpoints given to `pdiff train`), checkpoint
# directories with mixed tensor sets, a broken manifest and model config,
# missing / corrupt datasets, an unknown --net and --params, unwritable
# output paths, a full disk (tmpfs of 64 KiB; skipped where mount is not
# allowed), a non-finite training loss (both stages), and generated
# vectors holding NaN/Inf, which eval must exclude from its statistics.
#
# Usage: bad_inputs.sh <pdiff-cli> <source-dir>. Prints a markdown table of
# every case with the actual error line (docs/reliability.md shows it).
set -u
CLI=$1
SRC=$2
T=$(mktemp -d)
FULL_MNT=""
cleanup() {
  if [ -n "$FULL_MNT" ]; then umount "$FULL_MNT" 2>/dev/null; fi
  rm -rf "$T"
}
trap cleanup EXIT
export PDIFF_THREADS=2 OMP_NUM_THREADS=2
PY=python3

ncase=0
nbad=0
die() { echo "FATAL: $*" >&2; exit 1; }

# expect_fail NAME REGEX MODE CMD... — MODE strict: stderr is one line;
# progress: other lines may come first. $ABSENT (space-separated paths)
# must not exist afterwards.
expect_fail() {
  local name=$1 re=$2 mode=$3
  shift 3
  ncase=$((ncase + 1))
  "$@" >"$T/out.txt" 2>"$T/err.txt"
  local rc=$?
  local lines plines last why=""
  lines=$(wc -l <"$T/err.txt")
  plines=$(grep -c '^pdiff: ' "$T/err.txt")
  last=$(tail -n 1 "$T/err.txt")
  if [ "$rc" -eq 0 ]; then why="$why; exit status 0"; fi
  if [ "$rc" -ge 128 ]; then why="$why; killed by signal $((rc - 128))"; fi
  if [ "$mode" = strict ] && [ "$lines" -ne 1 ]; then why="$why; $lines stderr lines"; fi
  if [ "$plines" -ne 1 ]; then why="$why; $plines lines start with 'pdiff: '"; fi
  case "$last" in "pdiff: "*) ;; *) why="$why; last stderr line is not an error line" ;; esac
  if ! printf '%s\n' "$last" | grep -Eq -- "$re"; then why="$why; message does not match /$re/"; fi
  local tmps
  tmps=$(find "$T" -name '*.tmp.*' 2>/dev/null | head -n 3 | tr '\n' ' ')
  if [ -n "$tmps" ]; then why="$why; temp files left: $tmps"; fi
  for a in ${ABSENT:-}; do
    if [ -e "$a" ]; then why="$why; ${a#"$T"/} was created"; fi
  done
  local shown=${last//"$T"\//}
  if [ -n "$why" ]; then
    nbad=$((nbad + 1))
    echo "FAIL $name:${why#;}" >&2
    sed 's/^/    stderr: /' "$T/err.txt" | head -n 8 >&2
  fi
  printf '| %s | %d | `%s` |\n' "$name" "$rc" "$shown"
}

# ---- fixtures ---------------------------------------------------------------
$PY "$SRC/tests/make_tiny_data.py" "$T/data" --train 256 --test 128 || die "make_tiny_data.py"
G=$T/good
"$CLI" collect --data "$T/data" --net cnn --width 4 --epochs 1 -K 4 --every 2 --out "$G" \
  >/dev/null 2>"$T/log" || { cat "$T/log" >&2; die "collect on tiny data failed"; }
MODEL_ARGS=(--ae-steps 20 --ddpm-steps 20 --ckpt-every 10 --den-channels 4,4,4,4)
"$CLI" train "$G" "${MODEL_ARGS[@]}" >/dev/null 2>"$T/log" ||
  { cat "$T/log" >&2; die "train on tiny checkpoints failed"; }
echo "not a directory" >"$T/file.txt"
mkdir -p "$T/emptydir"

# every crafted safetensors file and checkpoint directory, standard library only
cat >"$T/craft.py" <<'EOF'
import json, math, os, shutil, struct, sys

T, G = sys.argv[1], sys.argv[2]

def read(p):
    b = open(p, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    return json.loads(b[8:8 + n]), b[8 + n:]

def tensors(p):
    """[(name, dtype, shape, raw bytes)] in buffer order, and the metadata"""
    h, data = read(p)
    meta = h.pop("__metadata__", None)
    out = sorted(h.items(), key=lambda kv: kv[1]["data_offsets"][0])
    return [(k, v["dtype"], v["shape"], data[v["data_offsets"][0]:v["data_offsets"][1]])
            for k, v in out], meta

def build(ts, meta=None):
    h, buf = {}, b""
    if meta:
        h["__metadata__"] = meta
    for name, dt, shape, raw in ts:
        h[name] = {"dtype": dt, "shape": shape, "data_offsets": [len(buf), len(buf) + len(raw)]}
        buf += raw
    text = json.dumps(h, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + buf

def put(p, b):
    os.makedirs(os.path.dirname(p), exist_ok=True)
    open(p, "wb").write(b)

def f32(vals):
    return struct.pack("<%df" % len(vals), *vals)

good = os.path.join(G, "ckpt_000.safetensors")
gb = open(good, "rb").read()
hlen = struct.unpack("<Q", gb[:8])[0]
S = os.path.join(T, "st")

# --- single files for `pdiff inspect`
put(S + "/zero.safetensors", b"")
put(S + "/short.safetensors", b"\x10\x00\x00")
put(S + "/truncated_header.safetensors", gb[:8 + hlen // 2])
put(S + "/truncated_payload.safetensors", gb[:-10])
put(S + "/huge_header.safetensors", struct.pack("<Q", 2**63 - 1) + b"{}")
put(S + "/header_past_end.safetensors", struct.pack("<Q", 99999999) + b"{}      ")
put(S + "/wrong_magic.safetensors", b"GGUF\x03\x00\x00\x00" + gb[8:])
put(S + "/not_json.safetensors", struct.pack("<Q", 16) + b"this is not json")
put(S + "/not_object.safetensors", build([])[:8] + b"[1,2]   ")  # header a JSON array
w = build([("w", "F32", [2, 3], f32(range(6)))])
put(S + "/wrong_shape.safetensors", w.replace(b"[2,3]", b"[2,4]"))
put(S + "/bad_dtype.safetensors", w.replace(b'"F32"', b'"Q32"'))
def raw(h, buf):
    """a file from any header dict (padded to 8 bytes as the format says)"""
    text = json.dumps(h, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + buf
put(S + "/huge_shape.safetensors",
    raw({"w": {"dtype": "F32", "shape": [2**40, 2**40], "data_offsets": [0, 24]}}, f32(range(6))))
put(S + "/huge_offsets.safetensors",
    raw({"w": {"dtype": "F32", "shape": [2**40], "data_offsets": [0, 2**42]}}, f32(range(6))))
put(S + "/gap.safetensors",
    raw({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
         "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}}, f32([1, 0, 2])))
put(S + "/overlap.safetensors",
    raw({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
         "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, f32([1, 2, 3])))
dup = b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},' \
      b'"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}'
dup += b" " * ((8 - len(dup) % 8) % 8)
put(S + "/duplicate_name.safetensors", struct.pack("<Q", len(dup)) + dup + f32([1, 2]))
put(S + "/nan_inf.safetensors", build([("x", "F32", [4], f32([1, math.nan, math.inf, -math.inf]))]))
# byte flips across the JSON header: each file flips one byte (XOR 0x55)
for i, pos in enumerate(range(8, 8 + hlen, max(1, hlen // 40))):
    b = bytearray(gb)
    b[pos] ^= 0x55
    put(S + "/flip_%02d.safetensors" % i, bytes(b))

# --- checkpoint directories for `pdiff train` (manifest from collect)
ck = sorted(f for f in os.listdir(G) if f.startswith("ckpt_"))
def ckdir(name, mutate):
    d = os.path.join(T, name)
    os.makedirs(d)
    for f in ck + ["manifest.json"]:
        shutil.copy(os.path.join(G, f), d)
    p = os.path.join(d, ck[2])
    put(p, mutate(open(p, "rb").read(), p))
man = json.load(open(os.path.join(G, "manifest.json")))
sub0 = man["params"][0]

def scale(factor_vals):
    def m(b, p):
        ts, meta = tensors(p)
        out = []
        for name, dt, shape, raw in ts:
            if name == sub0:
                n = len(raw) // 4
                raw = f32([factor_vals[k % len(factor_vals)] for k in range(n)])
            out.append((name, dt, shape, raw))
        return build(out, meta)
    return m

def rename(b, p):
    ts, meta = tensors(p)
    return build([(n + "_renamed" if n == sub0 else n, d, s, r) for n, d, s, r in ts], meta)

def grow(b, p):
    ts, meta = tensors(p)
    return build([(n, d, [s[0] + 1], r + f32([0])) if n == sub0 else (n, d, s, r)
                  for n, d, s, r in ts], meta)

def flip_header(b, p):
    b = bytearray(b)
    b[8] ^= 0x55  # the '{' opening the header
    return bytes(b)

ckdir("ck_truncated", lambda b, p: b[:len(b) * 2 // 3])
ckdir("ck_flipped", flip_header)
ckdir("ck_zero", lambda b, p: b"")
ckdir("ck_nan", scale([1.0, math.nan]))
ckdir("ck_inf", scale([math.inf]))
ckdir("ck_unknown_name", rename)
ckdir("ck_wrong_shape", grow)
ckdir("ck_bad_manifest", lambda b, p: b)
put(os.path.join(T, "ck_bad_manifest", "manifest.json"), b'{"mode": "subset", "params": [')

# --- directories without a manifest (selected with --params)
E = os.path.join(T, "ext_mixed")
put(E + "/a.safetensors", build([("w", "F32", [4], f32([1, 2, 3, 4])), ("b", "F32", [2], f32([0, 0]))]))
put(E + "/b.safetensors", build([("w", "F32", [4], f32([1, 2, 3, 4])), ("c", "F32", [2], f32([0, 0]))]))
E = os.path.join(T, "ext_shapes")
put(E + "/a.safetensors", build([("w", "F32", [4], f32([1, 2, 3, 4]))]))
put(E + "/b.safetensors", build([("w", "F32", [5], f32([1, 2, 3, 4, 5]))]))

# --- datasets
import gzip
D = os.path.join(T, "data")
def copydata(name, mutate_images):
    d = os.path.join(T, name)
    shutil.copytree(D, d)
    p = os.path.join(d, "train-images-idx3-ubyte.gz")
    raw = gzip.decompress(open(p, "rb").read())
    open(p, "wb").write(mutate_images(raw))
copydata("data_magic", lambda r: gzip.compress(b"\x1f\x8b\x08\x03" + r[4:], mtime=0))
copydata("data_type", lambda r: gzip.compress(b"\x00\x00\x0d\x03" + r[4:], mtime=0))
copydata("data_truncated", lambda r: gzip.compress(r, mtime=0)[:300])
copydata("data_count", lambda r: gzip.compress(r[:4] + struct.pack(">I", 255) + r[8:8 + 8] + r[16:16 + 255 * 144], mtime=0))

# --- a model whose config.json is broken
M = os.path.join(T, "model_badcfg")
shutil.copytree(os.path.join(G, "model"), M)
open(os.path.join(M, "config.json"), "w").write('{"format": "pdiff-model", "D": "288"}')
# --- a model whose config names an unknown normalization layer (once
# silently instance norm)
M = os.path.join(T, "model_bogusnorm")
shutil.copytree(os.path.join(G, "model"), M)
cfg = open(os.path.join(M, "config.json")).read()
assert '"norm":\t"instance"' in cfg
open(os.path.join(M, "config.json"), "w").write(cfg.replace('"norm":\t"instance"', '"norm":\t"bogus"'))

# --- a model whose normalization file is cut short, and one whose scale is 0
M = os.path.join(T, "model_badnorm")
shutil.copytree(os.path.join(G, "model"), M)
b = open(os.path.join(M, "norm.safetensors"), "rb").read()
open(os.path.join(M, "norm.safetensors"), "wb").write(b[: len(b) - 5])
M = os.path.join(T, "model_zeroscale")
shutil.copytree(os.path.join(G, "model"), M)
p = os.path.join(M, "norm.safetensors")
b = bytearray(open(p, "rb").read())
n = struct.unpack("<Q", b[:8])[0]
hdr = json.loads(b[8:8 + n])
off = 8 + n + hdr["scale"]["data_offsets"][0]
b[off:off + 4] = struct.pack("<f", 0.0)
open(p, "wb").write(bytes(b))

# --- generated vectors with non-finite rows, for eval: two originals'
# subsets (finite), one row with a NaN, one with +Inf
rows = []
for f in ck[:2]:
    ts, _ = tensors(os.path.join(G, f))
    byname = {n: r for n, d, s, r in ts}
    rows.append(b"".join(byname[n] for n in man["params"]))
Dn = man["D"]
nanrow = bytearray(rows[0]); nanrow[0:4] = f32([math.nan])
infrow = bytearray(rows[1]); infrow[4 * (Dn - 1):] = f32([math.inf])
put(os.path.join(T, "gen_nonfinite", "generated.safetensors"),
    build([("vectors", "F32", [4, Dn], rows[0] + rows[1] + bytes(nanrow) + bytes(infrow))]))

# --- a DDPM training state whose weights are huge (1e30): the next DDPM
# step's loss overflows
N = os.path.join(T, "model_nan_ddpm")
shutil.copytree(os.path.join(G, "model"), N)
for f in ("den.safetensors", "den_ema.safetensors"):
    os.remove(os.path.join(N, f))
sp = os.path.join(N, "den_state.safetensors")
ts, meta = tensors(sp)
meta["step"] = "10"
ts = [(n, d, s, f32([1e30] * (len(r) // 4)) if n == "params" else r) for n, d, s, r in ts]
put(sp, build(ts, meta))
EOF
$PY "$T/craft.py" "$T" "$G" || die "craft.py"
cp "$T/model_nan_ddpm/den_state.safetensors" "$T/den_state.crafted"

echo "| case | exit | error line |"
echo "|---|---|---|"
# ---- single files: pdiff inspect -------------------------------------------
S=$T/st
expect_fail "inspect: zero-length file" "zero.safetensors: 0 bytes is too short" strict "$CLI" inspect "$S/zero.safetensors"
expect_fail "inspect: 3-byte file" "short.safetensors: .*too short" strict "$CLI" inspect "$S/short.safetensors"
expect_fail "inspect: truncated in the header" "truncated_header.safetensors: " strict "$CLI" inspect "$S/truncated_header.safetensors"
expect_fail "inspect: truncated payload" "truncated_payload.safetensors: " strict "$CLI" inspect "$S/truncated_payload.safetensors"
expect_fail "inspect: header length 2^63-1" "huge_header.safetensors: header length" strict "$CLI" inspect "$S/huge_header.safetensors"
expect_fail "inspect: header length past the end" "header_past_end.safetensors: header length" strict "$CLI" inspect "$S/header_past_end.safetensors"
expect_fail "inspect: wrong magic (GGUF)" "wrong_magic.safetensors: " strict "$CLI" inspect "$S/wrong_magic.safetensors"
expect_fail "inspect: header not JSON" "not_json.safetensors: .*JSON" strict "$CLI" inspect "$S/not_json.safetensors"
expect_fail "inspect: header a JSON array" "not_object.safetensors: " strict "$CLI" inspect "$S/not_object.safetensors"
expect_fail "inspect: shape disagrees with offsets" "wrong_shape.safetensors: .*'w'" strict "$CLI" inspect "$S/wrong_shape.safetensors"
expect_fail "inspect: unknown dtype" "bad_dtype.safetensors: .*'w'" strict "$CLI" inspect "$S/bad_dtype.safetensors"
expect_fail "inspect: shape 2^40 x 2^40" "huge_shape.safetensors: .*'w'" strict "$CLI" inspect "$S/huge_shape.safetensors"
expect_fail "inspect: data_offsets 2^42 past the end" "huge_offsets.safetensors: .*'w'" strict "$CLI" inspect "$S/huge_offsets.safetensors"
expect_fail "inspect: gap between tensors" "gap.safetensors: gap before tensor 'b'" strict "$CLI" inspect "$S/gap.safetensors"
expect_fail "inspect: overlapping tensors" "overlap.safetensors: .*overlaps" strict "$CLI" inspect "$S/overlap.safetensors"
expect_fail "inspect: duplicate tensor name" "duplicate_name.safetensors: duplicate tensor name 'a'" strict "$CLI" inspect "$S/duplicate_name.safetensors"
expect_fail "inspect: a directory" "st: not a regular file" strict "$CLI" inspect "$S"
expect_fail "inspect: missing file" "nope.safetensors: cannot open" strict "$CLI" inspect "$S/nope.safetensors"
# NaN/Inf values are legal in a file: inspect lists and counts them
ncase=$((ncase + 1))
if "$CLI" inspect "$S/nan_inf.safetensors" >"$T/out.txt" 2>"$T/err.txt" &&
  grep -Eq '^x +F32 +\(4\) +-inf +inf +1 +1$' "$T/out.txt" && [ ! -s "$T/err.txt" ]; then
  echo '| inspect: NaN/Inf values (accepted, listed) | 0 | `x F32 (4) min -inf max inf mean 1 nan 1` |'
else
  nbad=$((nbad + 1))
  echo "FAIL inspect of NaN/Inf values:" >&2
  cat "$T/out.txt" "$T/err.txt" >&2
fi
# byte flips: each refused with one line, or accepted (a flip inside a
# metadata value is still a valid file); never a crash
nflip=0
nrefused=0
for f in "$S"/flip_*.safetensors; do
  nflip=$((nflip + 1))
  "$CLI" inspect "$f" >/dev/null 2>"$T/err.txt"
  rc=$?
  if [ "$rc" -ne 0 ]; then
    nrefused=$((nrefused + 1))
    if [ "$rc" -ge 128 ] || [ "$(wc -l <"$T/err.txt")" -ne 1 ] ||
      ! grep -q "^pdiff: .*$(basename "$f"): " "$T/err.txt"; then
      nbad=$((nbad + 1))
      echo "FAIL byte flip $(basename "$f") (exit $rc):" >&2
      head -n 5 "$T/err.txt" >&2
    fi
  fi
done
ncase=$((ncase + 1))
echo "| inspect: $nflip single-byte flips in the header | 1 ($nrefused), 0 ($((nflip - nrefused))) | one line each, e.g. \`$(sed "s#$T/##" "$T/err.txt" | tail -n 1)\` |"
if [ "$nrefused" -lt $((nflip / 2)) ]; then
  nbad=$((nbad + 1))
  echo "FAIL only $nrefused of $nflip header byte flips were refused" >&2
fi

# ---- checkpoint directories: pdiff train ----------------------------------
for c in truncated flipped zero; do
  ABSENT="$T/ck_$c/model" expect_fail "train: checkpoint $c" "ck_$c/ckpt_002.safetensors: " strict \
    "$CLI" train "$T/ck_$c" "${MODEL_ARGS[@]}"
done
ABSENT="$T/ck_nan/model" expect_fail "train: checkpoint holding NaN" "ck_nan/ckpt_002.safetensors: non-finite" strict \
  "$CLI" train "$T/ck_nan" "${MODEL_ARGS[@]}"
ABSENT="$T/ck_inf/model" expect_fail "train: checkpoint holding Inf" "ck_inf/ckpt_002.safetensors: non-finite" strict \
  "$CLI" train "$T/ck_inf" "${MODEL_ARGS[@]}"
ABSENT="$T/ck_unknown_name/model" expect_fail "train: subset tensor renamed" "ckpt_002.safetensors: tensor '.*' is missing" strict \
  "$CLI" train "$T/ck_unknown_name" "${MODEL_ARGS[@]}"
ABSENT="$T/ck_wrong_shape/model" expect_fail "train: subset tensor of another shape" "ckpt_002.safetensors: .*D = " strict \
  "$CLI" train "$T/ck_wrong_shape" "${MODEL_ARGS[@]}"
ABSENT="$T/ck_bad_manifest/model" expect_fail "train: manifest.json cut short" "ck_bad_manifest/manifest.json: " strict \
  "$CLI" train "$T/ck_bad_manifest" "${MODEL_ARGS[@]}"
ABSENT="$T/ext_mixed/model" expect_fail "train: mixed tensor sets (--params w,b)" "ext_mixed/b.safetensors: tensor 'b' is missing" strict \
  "$CLI" train "$T/ext_mixed" --params 'w,b' "${MODEL_ARGS[@]}"
ABSENT="$T/ext_shapes/model" expect_fail "train: same name, other shape" "ext_shapes/b.safetensors: " strict \
  "$CLI" train "$T/ext_shapes" --params 'w' "${MODEL_ARGS[@]}"
ABSENT="$T/ext_mixed/model" expect_fail "train: unknown --params pattern" "ext_mixed/a.safetensors: --params 'layer9\\.\\*' matches no tensor" strict \
  "$CLI" train "$T/ext_mixed" --params 'layer9.*' "${MODEL_ARGS[@]}"
ABSENT="$T/ext_mixed/model" expect_fail "train: no manifest, no --params" "ext_mixed: no manifest.json; pass --params" strict \
  "$CLI" train "$T/ext_mixed" "${MODEL_ARGS[@]}"
ABSENT="$T/emptydir/model" expect_fail "train: directory without checkpoints" "emptydir: no .safetensors files" strict \
  "$CLI" train "$T/emptydir" --params '*' "${MODEL_ARGS[@]}"
# (train prints "training on K checkpoints ..." before it creates the
# model directory, so the unwritable-output case is a progress-mode one)
expect_fail "train: --out under a regular file" "file.txt/sub: cannot create directory" progress \
  "$CLI" train "$G" --out "$T/file.txt/sub" "${MODEL_ARGS[@]}"

# ---- datasets and networks: pdiff collect ---------------------------------
COLLECT=(--net cnn --width 4 --epochs 1 -K 2 --every 2)
ABSENT="$T/c_empty" expect_fail "collect: dataset directory without files" "emptydir: no dataset found" strict \
  "$CLI" collect --data "$T/emptydir" "${COLLECT[@]}" --out "$T/c_empty"
ABSENT="$T/c_missing" expect_fail "collect: dataset directory missing" "nodata: " strict \
  "$CLI" collect --data "$T/nodata" "${COLLECT[@]}" --out "$T/c_missing"
ABSENT="$T/c_magic" expect_fail "collect: IDX with wrong magic" "data_magic/train-images-idx3-ubyte.gz: bad magic" strict \
  "$CLI" collect --data "$T/data_magic" "${COLLECT[@]}" --out "$T/c_magic"
ABSENT="$T/c_type" expect_fail "collect: IDX of float32 (type 0x0d)" "data_type/train-images-idx3-ubyte.gz: IDX type 0x0d" strict \
  "$CLI" collect --data "$T/data_type" "${COLLECT[@]}" --out "$T/c_type"
ABSENT="$T/c_trunc" expect_fail "collect: truncated gzip IDX" "data_truncated/train-images-idx3-ubyte.gz: " strict \
  "$CLI" collect --data "$T/data_truncated" "${COLLECT[@]}" --out "$T/c_trunc"
ABSENT="$T/c_count" expect_fail "collect: 255 images, 256 labels" "data_count/train-images-idx3-ubyte.gz: " strict \
  "$CLI" collect --data "$T/data_count" "${COLLECT[@]}" --out "$T/c_count"
ABSENT="$T/c_net" expect_fail "collect: unknown --net" "unknown network 'nosuchnet'" strict \
  "$CLI" collect --data "$T/data" --net nosuchnet --out "$T/c_net"
ABSENT="$T/c_params" expect_fail "collect: unknown --params pattern" "pattern 'layer9\\.\\*' matches no tensor" strict \
  "$CLI" collect --data "$T/data" "${COLLECT[@]}" --params 'layer9.*' --out "$T/c_params"
expect_fail "collect: --out under a regular file" "file.txt/sub: cannot create directory" strict \
  "$CLI" collect --data "$T/data" "${COLLECT[@]}" --out "$T/file.txt/sub"

# ---- models: generate and eval ---------------------------------------------
ABSENT="$T/gen_badcfg" expect_fail "generate: model config.json with wrong types" "model_badcfg/config.json: \"autoencoder\": missing or not an object" strict \
  "$CLI" generate "$G" --model "$T/model_badcfg" -n 2 --out "$T/gen_badcfg"
ABSENT="$T/gen_bogusnorm" expect_fail "generate: model config.json with \"norm\": \"bogus\"" "model_bogusnorm/config.json: autoencoder.norm: unknown value 'bogus' \\(instance, batch, group, none\\)" strict \
  "$CLI" generate "$G" --model "$T/model_bogusnorm" -n 2 --out "$T/gen_bogusnorm"
# (generate samples first and creates --out when it writes: progress mode)
expect_fail "generate: --out under a regular file" "file.txt/sub: cannot create directory" progress \
  "$CLI" generate "$G" -n 2 --sampler ddim --steps 2 --out "$T/file.txt/sub"
ABSENT="$T/gen_badnorm" expect_fail "generate: model norm.safetensors cut short" "model_badnorm/norm.safetensors: " strict \
  "$CLI" generate "$G" --model "$T/model_badnorm" -n 2 --out "$T/gen_badnorm"
ABSENT="$T/gen_zeroscale" expect_fail "generate: model normalization scale 0" "model_zeroscale/norm.safetensors: element 0 of shift/scale" strict \
  "$CLI" generate "$G" --model "$T/model_zeroscale" -n 2 --out "$T/gen_zeroscale"
ABSENT="$T/m_badnorm" expect_fail "train: unknown --normalize" "--normalize: normalize: unknown value 'layer' \\(none, tensor, dim\\)" strict \
  "$CLI" train "$G" --out "$T/m_badnorm" --normalize layer
ABSENT="$T/gen_nomodel" expect_fail "generate: model directory missing" "nomodel/config.json: cannot open" strict \
  "$CLI" generate "$G" --model "$T/nomodel" -n 2 --out "$T/gen_nomodel"
expect_fail "eval: generated.safetensors missing" "emptydir/generated.safetensors: cannot open" strict \
  "$CLI" eval "$G" --generated "$T/emptydir" --no-baselines --out "$T/eval_none"

ABSENT="$T/m_fp16" expect_fail "train: --precision fp16 (unknown)" "--precision: precision: unknown value 'fp16' \\(fp32, bf16\\)" strict \
  "$CLI" train "$G" --out "$T/m_fp16" --precision fp16 "${MODEL_ARGS[@]}"
ABSENT="$T/gen_fp16" expect_fail "generate: --precision fp16 (unknown)" "--precision must be fp32 or bf16, not 'fp16'" strict \
  "$CLI" generate "$G" -n 2 --precision fp16 --out "$T/gen_fp16"

# ---- non-finite training loss ---------------------------------------------
ABSENT="$T/m_lr1e30" expect_fail "train: --model-lr 1e30 (out of range)" "--model-lr: lr: 1e\\+30 is out of range \\(0 .. 10\\)" strict \
  "$CLI" train "$G" --out "$T/m_lr1e30" --model-lr 1e30 "${MODEL_ARGS[@]}"
ABSENT="$T/m_lr/ae.safetensors $T/m_lr/den.safetensors" \
  expect_fail "train: --model-lr 10 --weight-decay 10 (AE loss overflows)" "autoencoder: loss is not finite at step [0-9]+, before the first checkpoint" progress \
  "$CLI" train "$G" --out "$T/m_lr" --model-lr 10 --weight-decay 10 "${MODEL_ARGS[@]}"
ABSENT="$T/model_nan_ddpm/den.safetensors $T/model_nan_ddpm/den_ema.safetensors" \
  expect_fail "train: DDPM state with weights 1e30" "ddpm: loss is not finite at step 11; .*den_state.safetensors.* is kept" progress \
  "$CLI" train "$G" --out "$T/model_nan_ddpm" "${MODEL_ARGS[@]}"
if ! cmp -s "$T/den_state.crafted" "$T/model_nan_ddpm/den_state.safetensors"; then
  nbad=$((nbad + 1))
  echo "FAIL the last good DDPM state was overwritten after a non-finite loss" >&2
fi

# ---- generated vectors with NaN / Inf rows: excluded by eval ---------------
ncase=$((ncase + 1))
if "$CLI" eval "$G" --generated "$T/gen_nonfinite" --no-baselines --out "$T/eval_nf" \
  >"$T/out.txt" 2>"$T/err.txt"; then
  if $PY - "$T/eval_nf/results.json" <<'EOF'; then
import json, math, sys
r = json.load(open(sys.argv[1]))
p = r["pdiff"]
assert p["count"] == 2, p
assert p["nonfinite"] == 2, p
for k in ("best", "mean", "median", "worst", "selected"):
    assert isinstance(p[k], (int, float)) and math.isfinite(p[k]), (k, p[k])
g = r["generated"]
assert len(g) == 4, len(g)
assert g[2]["test_acc"] is None and g[3]["test_acc"] is None, g[2:]
# the two finite rows are copies of originals: same accuracy as those
assert abs(p["best"] - r["original"]["best"]) < 1e-9 or p["best"] <= r["original"]["best"]
EOF
    echo '| eval: generated rows with NaN and +Inf | 0 | `non-finite: 2` (statistics over the 2 finite rows) |'
  else
    nbad=$((nbad + 1))
    echo "FAIL eval did not exclude the non-finite generated rows" >&2
  fi
else
  nbad=$((nbad + 1))
  echo "FAIL eval of generated rows with NaN/Inf exited non-zero:" >&2
  tail -n 3 "$T/err.txt" >&2
fi

# ---- full disk ---------------------------------------------------------------
mkdir -p "$T/full"
if mount -t tmpfs -o size=64k tmpfs "$T/full" 2>/dev/null; then
  FULL_MNT=$T/full
  expect_fail "collect: disk full (64 KiB tmpfs)" "full/c/.*No space left on device" progress \
    "$CLI" collect --data "$T/data" --net cnn --width 4 --epochs 1 -K 12 --every 2 --out "$T/full/c"
  # what did get written is complete: every safetensors file still parses
  for f in "$T"/full/c/*.safetensors; do
    if [ -e "$f" ] && ! "$CLI" inspect "$f" >/dev/null 2>&1; then
      nbad=$((nbad + 1))
      echo "FAIL half-written file after a full disk: $f" >&2
    fi
  done
  rm -rf "$T/full/c"
  expect_fail "train: disk full (64 KiB tmpfs)" "full/m/.*No space left on device" progress \
    "$CLI" train "$G" --out "$T/full/m" --ae-steps 20 --ddpm-steps 20 --ckpt-every 10 --den-channels 64,64,64,64
  umount "$T/full" && FULL_MNT=""
else
  echo "| disk full | - | skipped: cannot mount a tmpfs here |"
  echo "skipped the full-disk cases: mount -t tmpfs not permitted" >&2
fi

echo
echo "$ncase cases, $nbad failures"
[ "$nbad" -eq 0 ]
