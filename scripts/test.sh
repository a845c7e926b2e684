#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine, then runs all tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the integration tests drive (command -> package).
declare -A wanted=(
  [sipp]=sip-tester
  [openssl]=openssl
  [ip]=iproute2
  [nft]=nftables
  [iptables-restore]=iptables
  [ip6tables-restore]=iptables
  [ipset]=ipset
  [fail2ban-regex]=fail2ban
  [setpriv]=util-linux
  [svmap]=sipvicious
  [tshark]=tshark
  [dumpcap]=tshark
  [kamailio]=kamailio
  [baresip]=baresip-core
  [chromium]=chromium
)
missing=()
for cmd in "${!wanted[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${wanted[$cmd]}")
done
if ((${#missing[@]} > 0)); then
  echo "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

npm ci --no-audit --no-fund
npm run lint
npm test
