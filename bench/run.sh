#!/usr/bin/env bash
# Sealgate's benchmark: throughput, CPU and memory through Sealgate against the same backend
# measured directly, in one run, with the same fast client (s3bench). See bench/README.md.
#
#   bench/run.sh            # 1 GiB objects (the figures in the README)
#   SIZE_MIB=256 bench/run.sh   # a quicker run
#
# Everything lives in a RAM-backed folder and on loopback, so the backend's own speed hides
# nothing. The backend is s3s-fs (a Rust S3 server over a folder), built with cargo if missing.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
size_mib=${SIZE_MIB:-1024}
size=$((size_mib * 1024 * 1024))
concurrent=${CONCURRENT:-8}
small_ops=${SMALL_OPS:-4000}
part_mib=${PART_MIB:-16}
part_conc=${PART_CONCURRENT:-8}
runs=${RUNS:-5}
kms_ops=${KMS_OPS:-40000}
target=${CARGO_TARGET_DIR:-$root/target}
work=$(mktemp -d /dev/shm/sealgate-bench.XXXXXX)
pids=()

cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

export AWS_ACCESS_KEY_ID=benchaccesskey
export AWS_SECRET_ACCESS_KEY=benchsecretkey0123456789
export SEALGATE_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID
export SEALGATE_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY

echo "building (release)..." >&2
(cd "$root" && cargo build --release -q -p sealgate -p sealgate-tests --bin sealgate --bin s3bench)
sealgate=$target/release/sealgate
s3bench=$target/release/s3bench

s3sfs=$(command -v s3s-fs || true)
if [ -z "$s3sfs" ]; then
    s3sfs=$target/tools/bin/s3s-fs
    if [ ! -x "$s3sfs" ]; then
        echo "building s3s-fs 0.14.1 (once)..." >&2
        cargo install -q s3s-fs --version 0.14.1 --locked --features binary --root "$target/tools"
    fi
fi

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_ready() {
    for _ in $(seq 1 100); do
        if [ "$(curl -s -o /dev/null -w '%{http_code}' "$1")" = 200 ] ||
            { [ "${2:-}" = any ] && [ "$(curl -s -o /dev/null -w '%{http_code}' "$1")" != 000 ]; }; then
            return 0
        fi
        sleep 0.1
    done
    echo "not ready: $1" >&2
    return 1
}

cpu_seconds() { # utime + stime of a pid, in seconds
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f", ($14 + $15) / hz }' "/proc/$1/stat"
}

peak_rss_mib() {
    awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"
}

value() { # value NAME "k=v k=v"
    tr ' ' '\n' <<<"$2" | awk -F= -v k="$1" '$1 == k { print $2 }'
}

backend_bytes_read() {
    curl -s "$1/metrics" | awk '/^sealgate_backend_bytes_read_total/ { print $2 }'
}

# The backend: s3s-fs on a RAM-backed folder.
mkdir -p "$work/s3" "$work/sealgate-s3" "$work/sealgate-folder"
s3_port=$(free_port)
"$s3sfs" --host 127.0.0.1 --port "$s3_port" --access-key "$AWS_ACCESS_KEY_ID" \
    --secret-key "$AWS_SECRET_ACCESS_KEY" "$work/s3" >"$work/s3sfs.log" 2>&1 &
pids+=($!)
backend=http://127.0.0.1:$s3_port
wait_ready "$backend/" any

# Sealgate in front of it.
sg_port=$(free_port)
SEALGATE_LOG_LEVEL=warn "$sealgate" serve --listen "127.0.0.1:$sg_port" \
    --data-dir "$work/sealgate-s3" --backend-endpoint "$backend" \
    --backend-access-key-id "$AWS_ACCESS_KEY_ID" \
    --backend-secret-access-key "$AWS_SECRET_ACCESS_KEY" >"$work/sealgate-s3.log" 2>&1 &
sg_pid=$!
pids+=("$sg_pid")
gateway=http://127.0.0.1:$sg_port
wait_ready "$gateway/health/ready"

# Sealgate on its local-folder backend, for the memory test.
sf_port=$(free_port)
SEALGATE_LOG_LEVEL=warn "$sealgate" serve --listen "127.0.0.1:$sf_port" \
    --data-dir "$work/sealgate-folder" >"$work/sealgate-folder.log" 2>&1 &
sf_pid=$!
pids+=("$sf_pid")
folder=http://127.0.0.1:$sf_port
wait_ready "$folder/health/ready"

"$s3bench" "$backend" direct mkbucket >/dev/null
"$s3bench" "$gateway" sealed mkbucket >/dev/null
"$s3bench" "$folder" sealed mkbucket >/dev/null

median() { tr ' ' '\n' | sort -g | awk 'NF { v[++n] = $1 } END { print v[int((n + 1) / 2)] }'; }

# Each throughput is the median of $runs runs, direct and through Sealgate taking turns, so that
# a noisy moment of the shared machine touches both alike. CPU seconds are summed over the runs.
echo "== ${size_mib} MiB PUT and GET, one stream, ${runs} runs each" >&2
direct_puts="" direct_gets="" sealed_puts="" sealed_gets="" put_cpu_total=0 get_cpu_total=0
for _ in $(seq 1 "$runs"); do
    direct_puts+=" $(value mb_per_second "$("$s3bench" "$backend" direct put big "$size")")"
    direct_gets+=" $(value mb_per_second "$("$s3bench" "$backend" direct get big)")"
    cpu0=$(cpu_seconds "$sg_pid")
    sealed_puts+=" $(value mb_per_second "$("$s3bench" "$gateway" sealed put big "$size")")"
    cpu1=$(cpu_seconds "$sg_pid")
    sealed_gets+=" $(value mb_per_second "$("$s3bench" "$gateway" sealed get big)")"
    cpu2=$(cpu_seconds "$sg_pid")
    put_cpu_total=$(awk -v t="$put_cpu_total" -v a="$cpu0" -v b="$cpu1" 'BEGIN { print t + b - a }')
    get_cpu_total=$(awk -v t="$get_cpu_total" -v a="$cpu1" -v b="$cpu2" 'BEGIN { print t + b - a }')
done
direct_put=$(median <<<"$direct_puts")
direct_get=$(median <<<"$direct_gets")
sealed_put=$(median <<<"$sealed_puts")
sealed_get=$(median <<<"$sealed_gets")
gb=$(awk -v s="$size" -v r="$runs" 'BEGIN { print s * r / 1e9 }')
put_cpu=$(awk -v c="$put_cpu_total" -v g="$gb" 'BEGIN { printf "%.2f", c / g }')
get_cpu=$(awk -v c="$get_cpu_total" -v g="$gb" 'BEGIN { printf "%.2f", c / g }')

echo "== ranged GET: 1 MiB from the middle" >&2
before=$(backend_bytes_read "$gateway")
"$s3bench" "$gateway" sealed range big-0 $((size / 2 + 12345)) 1048576 >/dev/null
after=$(backend_bytes_read "$gateway")
range_read=$((after - before))

echo "== 4 KiB PUT+GET pairs, 32 at once" >&2
direct_ops=$(value ops_per_second "$("$s3bench" "$backend" direct small 4096 "$small_ops" 32)")
sealed_ops=$(value ops_per_second "$("$s3bench" "$gateway" sealed small 4096 "$small_ops" 32)")

echo "== ${size_mib} MiB multipart upload, ${part_mib} MiB parts, ${part_conc} at once" >&2
rm -f "$work/s3/direct/big-0" "$work/s3/sealed/big-0" # free the RAM they hold
part=$((part_mib * 1024 * 1024))
direct_mps="" sealed_mps=""
for _ in $(seq 1 "$runs"); do
    direct_mps+=" $(value mb_per_second "$("$s3bench" "$backend" direct multipart mp "$size" "$part" "$part_conc")")"
    rm -f "$work/s3/direct/mp"
    sealed_mps+=" $(value mb_per_second "$("$s3bench" "$gateway" sealed multipart mp "$size" "$part" "$part_conc")")"
    rm -rf "$work/s3/sealed/mp" "$work/s3/sealed/#sealgate"
done
direct_mp=$(median <<<"$direct_mps")
sealed_mp=$(median <<<"$sealed_mps")
peak_s3=$(peak_rss_mib "$sg_pid")

# CPU per GB on the local folder, the fastest backend: s3s-fs serves GETs slowly enough that
# Sealgate idles and wakes for every few kilobytes, which the S3 figures above include.
echo "== ${size_mib} MiB PUT and GET through Sealgate on its local folder, ${runs} runs" >&2
cpu0=$(cpu_seconds "$sf_pid")
for _ in $(seq 1 "$runs"); do "$s3bench" "$folder" sealed put one "$size" >/dev/null; done
cpu1=$(cpu_seconds "$sf_pid")
for _ in $(seq 1 "$runs"); do "$s3bench" "$folder" sealed get one >/dev/null; done
cpu2=$(cpu_seconds "$sf_pid")
folder_put_total=$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { print b - a }')
folder_get_total=$(awk -v a="$cpu1" -v b="$cpu2" 'BEGIN { print b - a }')
folder_put_cpu=$(awk -v c="$folder_put_total" -v g="$gb" 'BEGIN { printf "%.2f", c / g }')
folder_get_cpu=$(awk -v c="$folder_get_total" -v g="$gb" 'BEGIN { printf "%.2f", c / g }')
rm -rf "$work/sealgate-folder/objects/sealed/one-0#o"

echo "== KMS: GenerateDataKey and Decrypt, ${kms_ops} calls each, 32 at once, over HTTP and in-process" >&2
kms_http=$("$s3bench" "$folder" - kms "$kms_ops" 32)
kms_gen=$(value GenerateDataKey_per_second "$kms_http")
kms_dec=$(value Decrypt_per_second "$kms_http")
kms_local=$(cd "$root" && cargo run --release -q -p kms-core --example kms_throughput 200000)
kms_local_gen=$(awk '/^GenerateDataKey/ { print $(NF - 1) }' <<<"$kms_local")
kms_local_dec=$(awk '/^Decrypt/ { print $(NF - 1) }' <<<"$kms_local")

echo "== KMS on a SoftHSM2 token: the same calls, over HTTP and in-process" >&2
hsm_module=$(ls /usr/lib/softhsm/libsofthsm2.so /usr/lib/*/softhsm/libsofthsm2.so 2>/dev/null | head -n 1)
hsm_gen=n/a hsm_dec=n/a hsm_local_gen=n/a hsm_local_dec=n/a
if [ -n "$hsm_module" ] && command -v softhsm2-util >/dev/null; then
    mkdir -p "$work/hsm/tokens" "$work/sealgate-hsm"
    printf 'directories.tokendir = %s\nobjectstore.backend = file\n' "$work/hsm/tokens" \
        >"$work/hsm/softhsm2.conf"
    export SOFTHSM2_CONF=$work/hsm/softhsm2.conf
    softhsm2-util --init-token --free --label bench --so-pin 1234 --pin 5678 >/dev/null
    hsm_port=$(free_port)
    SEALGATE_LOG_LEVEL=warn SEALGATE_ROOT_OF_TRUST=pkcs11 SEALGATE_PKCS11_MODULE=$hsm_module \
        SEALGATE_PKCS11_TOKEN_LABEL=bench SEALGATE_PKCS11_PIN=5678 \
        "$sealgate" serve --listen "127.0.0.1:$hsm_port" --data-dir "$work/sealgate-hsm" \
        >"$work/sealgate-hsm.log" 2>&1 &
    pids+=($!)
    wait_ready "http://127.0.0.1:$hsm_port/health/ready"
    hsm_http=$("$s3bench" "http://127.0.0.1:$hsm_port" - kms "$kms_ops" 32)
    hsm_gen=$(value GenerateDataKey_per_second "$hsm_http")
    hsm_dec=$(value Decrypt_per_second "$hsm_http")
    hsm_local=$(cd "$root" && SEALGATE_PKCS11_MODULE=$hsm_module SEALGATE_PKCS11_TOKEN_LABEL=bench \
        SEALGATE_PKCS11_PIN=5678 cargo run --release -q -p kms-core --example kms_throughput_pkcs11 20000 2)
    hsm_local_gen=$(awk '/^GenerateDataKey/ { print $(NF - 1) }' <<<"$hsm_local")
    hsm_local_dec=$(awk '/^Decrypt/ { print $(NF - 1) }' <<<"$hsm_local")
fi

echo "== policy evaluation: a principal with 10 policies of 10 statements, against 1 of 1" >&2
policy_out=$(cd "$root" && cargo bench -q -p policy --bench evaluate 2>/dev/null)
policy_base=$(awk '/^baseline/ { print $(NF - 1) }' <<<"$policy_out")
policy_full=$(awk '/^principal/ { for (i = 1; i < NF; i++) if ($(i + 1) == "ns/evaluation") print $i }' <<<"$policy_out")

echo "== ${concurrent} concurrent ${size_mib} MiB transfers through Sealgate (folder backend)" >&2
"$s3bench" "$folder" sealed put many "$size" "$concurrent" >/dev/null
"$s3bench" "$folder" sealed get many "$concurrent" >/dev/null
peak=$(peak_rss_mib "$sf_pid")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
cat <<EOF

Sealgate benchmark ($(nproc) cores, ${size_mib} MiB objects, backend s3s-fs on /dev/shm, medians of ${runs} runs)

| measure | direct | through Sealgate | ratio | target |
|---|---|---|---|---|
| PUT MB/s | $direct_put | $sealed_put | $(ratio "$sealed_put" "$direct_put") | >= 0.6 |
| GET MB/s | $direct_get | $sealed_get | $(ratio "$sealed_get" "$direct_get") | >= 0.6 |
| multipart upload MB/s (${part_mib} MiB parts, ${part_conc} at once) | $direct_mp | $sealed_mp | $(ratio "$sealed_mp" "$direct_mp") | |
| 4 KiB PUT+GET pairs/s | $direct_ops | $sealed_ops | $(ratio "$sealed_ops" "$direct_ops") | |

| measure | value | target |
|---|---|---|
| Sealgate CPU s/GB, GET, local folder backend | $folder_get_cpu | <= 1.0 |
| Sealgate CPU s/GB, GET, in front of s3s-fs | $get_cpu | |
| Sealgate CPU s/GB, PUT, local folder (encryption, plus the plaintext MD5 of about 1.6 on another core) | $folder_put_cpu | |
| Sealgate CPU s/GB, PUT, in front of s3s-fs (the same) | $put_cpu | |
| backend bytes read for a 1 MiB ranged GET | $range_read | <= $((1048576 + 2 * 65552 + 40)) |
| peak RSS of Sealgate on S3, after all of the above (MiB) | $peak_s3 | < 150 |
| peak RSS, ${concurrent} concurrent ${size_mib} MiB PUTs then GETs (MiB) | $peak | < 100 |

| KMS calls per second (32 clients over HTTP on this machine; in-process on one core) | over HTTP | in-process | target |
|---|---|---|---|
| GenerateDataKey | $kms_gen | $kms_local_gen | >= 20000 over HTTP |
| Decrypt | $kms_dec | $kms_local_dec | >= 20000 over HTTP |
| GenerateDataKey, SoftHSM2 root | $hsm_gen | $hsm_local_gen | |
| Decrypt, SoftHSM2 root | $hsm_dec | $hsm_local_dec | |

| policy evaluation, ns per request | 1 policy of 1 statement | 10 policies of 10 statements | ratio | target |
|---|---|---|---|---|
| allowed, implicitly and explicitly denied requests mixed | $policy_base | $policy_full | $(ratio "$policy_full" "$policy_base") | < 5000 ns |
EOF
