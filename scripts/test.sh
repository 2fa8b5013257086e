#!/usr/bin/env bash
# Runs every check Sealgate has, exactly as CI does (.ci/run calls this script):
#   1. installs what the tests need when it is missing (apt and pip packages),
#   2. cargo fmt --check, clippy with warnings denied, builds the sealgate binary,
#   3. cargo test for the whole workspace (the black-box suite starts moto and sealgate itself).
# Exits non-zero on the first failure. Environment:
#   SEALGATE_SKIP_INSTALL=1   skip step 1
#   SEALGATE_TEST_S3_ENDPOINT (+ _ACCESS_KEY_ID, _SECRET_ACCESS_KEY, _REGION) test against that
#                             S3 server (MinIO from docker-compose.yml) instead of moto
set -euo pipefail

cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
started=$SECONDS

step() {
    echo
    echo "==> $* ($((SECONDS - started)) s)"
}

# Debian packages the tests use, as "command package" pairs.
apt_needs() {
    [ -x /usr/bin/aws ] || echo awscli
    command -v rclone >/dev/null || echo rclone
    command -v restic >/dev/null || echo restic
    command -v softhsm2-util >/dev/null || echo softhsm2
    python3 -m pip --version >/dev/null 2>&1 || echo python3-pip
}

install_apt() {
    local missing
    missing=$(apt_needs | tr '\n' ' ')
    [ -z "${missing// /}" ] && return 0
    echo "installing Debian packages: $missing"
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

install_pip() {
    python3 -c 'import boto3, moto.server, yaml, flask_cors, awscli' 2>/dev/null && return 0
    echo "installing python packages: boto3 moto[server] pyyaml awscli"
    # PyPI's awscli (version 1, current botocore) has the 2024 KMS commands Debian's lacks.
    local pkgs=(boto3 'moto[server]' pyyaml awscli)
    python3 -m pip install -q "${pkgs[@]}" ||
        python3 -m pip install -q --break-system-packages "${pkgs[@]}"
}

if [ "${SEALGATE_SKIP_INSTALL:-0}" != 1 ]; then
    step "installing what is missing"
    install_apt
    install_pip
fi
export SEALGATE_TEST_PYTHON="${SEALGATE_TEST_PYTHON:-$(command -v python3)}"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo build -p sealgate"
cargo build -p sealgate

step "cargo test"
cargo test --workspace

step "cargo test: the black-box suite again, on a SoftHSM2 root of trust"
SEALGATE_TEST_ROOT_OF_TRUST=pkcs11 cargo test -p sealgate-tests

step "all checks passed in $((SECONDS - started)) s"
