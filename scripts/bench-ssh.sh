#!/usr/bin/env bash
# SSH side by side, in one run: N trivial command checks against one private sshd on
# loopback, with labcert, pytest-testinfra (ssh:// with ControlPath multiplexing) and
# ansible-core (pipelining + ControlPersist). Prints each wall time and the ratios.
#
# labcert also runs, with default options, against a second sshd on Debian's stock
# /etc/ssh/sshd_config (MaxSessions 10, UsePAM yes, StrictModes yes, ...; only port, listen
# address, host key, PidFile and AuthorizedKeysFile are its own), as real lab nodes run it.
# The bench prints its median time over BENCH_REPEAT runs beside that of the same stock
# server with MaxSessions 200 (the one setting compared) and of the test-bed server, and how
# many of its checks were not `pass` (0 expected; otherwise the bench fails). Stock servers
# see Debian's root .bashrc instead of the runner's (bound over it in a mount namespace of
# their own): a runner's .bashrc (pyenv, ...) is no part of a lab node and would time bash
# start-up, not SSH.
#
#   bash scripts/bench-ssh.sh            # N = 50 and 200
#   BENCH_N="200" bash scripts/bench-ssh.sh
#   BENCH_TOOLS="labcert" BENCH_REPEAT=20 bash scripts/bench-ssh.sh   # labcert only, 20 stock runs
#
# Installs openssh-server when missing and the Python peers into a throwaway venv
# (kept in target/bench-ssh-venv so a second run is quicker). Talks only to 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
NS=${BENCH_N:-"50 200"}
# The bench sshd allows MaxSessions 200 (as TESTBED.md's); labcert may use more channels
# than OpenSSH's default-safe 8 on it. Set SSH_CHANNELS=8 to measure the default.
CHANNELS=${SSH_CHANNELS:-8}
TOOLS=${BENCH_TOOLS:-"labcert testinfra ansible"}
# Runs of labcert against each stock server (the median is printed).
REPEAT=${BENCH_REPEAT:-5}
want() { [[ " $TOOLS " == *" $1 "* ]]; }

if [ ! -x /usr/sbin/sshd ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server openssh-client
fi

VENV=$REPO/target/bench-ssh-venv
if { want testinfra || want ansible; } && { [ ! -x "$VENV/bin/ansible-playbook" ] || [ ! -x "$VENV/bin/pytest" ]; }; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q pytest pytest-testinfra ansible-core
fi

cargo build --release -q
LABCERT=$REPO/target/release/labcert

DIR=$(mktemp -d /tmp/labcert-bench-ssh.XXXXXX)
# The stock servers' files. StrictModes yes refuses an authorized_keys below a world-writable
# directory (/tmp, wherever the checkout is): as root, each server runs in a mount namespace
# of its own with its directory bound over /mnt, and reads its keys there.
SDIR="$DIR/stock-servers"
cleanup() {
  [ -f "$DIR/sshd.pid" ] && kill "$(cat "$DIR/sshd.pid")" 2>/dev/null || true
  for p in "$SDIR"/*/sshd.pid; do [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null || true; done
  rm -rf "$SDIR"
  [ -S "$DIR/cm.sock" ] && ssh -F "$DIR/ssh_config" -O exit bench 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ssh-keygen -q -t ed25519 -N '' -f "$DIR/host_ed25519_key"
ssh-keygen -q -t ed25519 -N '' -f "$DIR/id_ed25519"
cp "$DIR/id_ed25519.pub" "$DIR/authorized_keys"
cat > "$DIR/sshd_config" <<EOF
Port $PORT
ListenAddress 127.0.0.1
HostKey $DIR/host_ed25519_key
PidFile $DIR/sshd.pid
AuthorizedKeysFile $DIR/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
UseDNS no
MaxStartups 200:30:400
MaxSessions 200
SetEnv SHLVL=1
EOF
install -d -m 0755 /run/sshd
/usr/sbin/sshd -f "$DIR/sshd_config" -E "$DIR/sshd.log"
for _ in $(seq 100); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 0.2)" 2>/dev/null && break
  sleep 0.05
done
echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$DIR/host_ed25519_key.pub")" > "$DIR/known_hosts"

# Stock servers: the distro's sshd_config after the five lines a private server needs
# ($2: one more setting, for the one-setting comparison). Prints the port.
stock_sshd() {
  local dir=$1 extra=${2:-} port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  mkdir -p "$dir"
  ssh-keygen -q -t ed25519 -N '' -f "$dir/host_ed25519_key"
  cp "$DIR/id_ed25519.pub" "$dir/authorized_keys"
  {
    echo "# A private bench server: only these lines differ from /etc/ssh/sshd_config."
    echo "Port $port"
    echo "ListenAddress 127.0.0.1"
    echo "HostKey $dir/host_ed25519_key"
    echo "PidFile $dir/sshd.pid"
    if [ "$(id -u)" = 0 ]; then echo "AuthorizedKeysFile /mnt/authorized_keys"
    else echo "AuthorizedKeysFile $dir/authorized_keys"; fi
    [ -n "$extra" ] && echo "$extra"
    cat /etc/ssh/sshd_config
  } > "$dir/sshd_config"
  local bashrc=/usr/share/base-files/dot.bashrc
  if [ "$(id -u)" = 0 ] && [ -f "$HOME/.bashrc" ] && [ -f "$bashrc" ]; then
    unshare --mount --propagation private sh -c \
      'mount --bind "$0" "$1" && mount --bind "$2" "$3" && shift 3 && exec "$@"' \
      "$dir" /mnt "$bashrc" "$HOME/.bashrc" /usr/sbin/sshd -f "$dir/sshd_config" -E "$dir/sshd.log"
  elif [ "$(id -u)" = 0 ]; then
    unshare --mount --propagation private sh -c 'mount --bind "$0" "$1" && shift && exec "$@"' \
      "$dir" /mnt /usr/sbin/sshd -f "$dir/sshd_config" -E "$dir/sshd.log"
  else
    /usr/sbin/sshd -f "$dir/sshd_config" -E "$dir/sshd.log"
  fi
  for _ in $(seq 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && break
    sleep 0.05
  done
  echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$dir/host_ed25519_key.pub")" >> "$DIR/known_hosts"
  echo "$port"
}
SPORT=$(stock_sshd "$SDIR/stock")
MPORT=$(stock_sshd "$SDIR/stock200" "MaxSessions 200")

now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.3f}')"; }

declare -A T NOTPASS BLOCKED
for N in $NS; do
  # labcert: one catalog, N ssh command checks, one verified connection.
  C=$DIR/lc-$N; mkdir -p "$C/topologies"
  {
    echo "catalog: bench"
    echo "provider: reachability"
    echo "groups:"
    echo "  - id: ssh"
    echo "    checks:"
    for i in $(seq "$N"); do
      echo "      - { id: c$i, probe: { ssh: { host: 127.0.0.1, port: $PORT, user: root, command: 'true', identity: $DIR/id_ed25519, known_hosts: $DIR/known_hosts } }, expect: [{ exit: 0 }] }"
    done
  } > "$C/bench.yaml"
  printf 'topology: bench\ncatalogs:\n  bench: {}\n' > "$C/topologies/bench.yaml"
  if want labcert; then
  t0=$(now)
  CI=1 ${LABCERT_WRAP:-} "$LABCERT" --catalogs "$C" certify --environment bench --topology bench --out "$C/m.json" \
      --ssh-channels "$CHANNELS" > "$C/out.txt" \
    || { cat "$C/out.txt"; echo "labcert failed"; exit 1; }
  T[labcert,$N]=$(secs "$t0" "$(now)")

  # The same checks, with labcert's default options, against the stock sshd and the stock
  # sshd with MaxSessions 200 (the one setting the comparison is about): REPEAT runs each,
  # alternating, timed by the median; every run's checks must all pass.
  for srv in stock:$SPORT stock200:$MPORT; do
    S=$DIR/lc-${srv%%:*}-$N; mkdir -p "$S/topologies"
    sed "s/port: $PORT,/port: ${srv#*:},/" "$C/bench.yaml" > "$S/bench.yaml"
    cp "$C/topologies/bench.yaml" "$S/topologies/"
    : > "$S/times"
  done
  NOTPASS[$N]=0; BLOCKED[$N]=0
  for _ in $(seq "$REPEAT"); do
    for srv in stock stock200; do
      S=$DIR/lc-$srv-$N; rm -f "$S/m.json"
      t0=$(now)
      CI=1 ${LABCERT_WRAP:-} "$LABCERT" --catalogs "$S" certify --environment bench --topology bench \
          --out "$S/m.json" > "$S/out.txt" || true
      secs "$t0" "$(now)" >> "$S/times"
      [ -f "$S/m.json" ] || { cat "$S/out.txt"; echo "labcert ($srv sshd) wrote no manifest"; exit 1; }
      [ "$srv" = stock ] || continue
      read -r np bl < <(python3 -c "import json,sys; s=json.load(open(sys.argv[1]))['summary']; print(s['total'] - s['pass'], s['blocked'])" "$S/m.json")
      NOTPASS[$N]=$((NOTPASS[$N] + np)); BLOCKED[$N]=$((BLOCKED[$N] + bl))
    done
  done
  for srv in stock stock200; do
    T[$srv,$N]=$(python3 -c "import statistics,sys; print(f'{statistics.median(float(l) for l in open(sys.argv[1])):.3f}')" "$DIR/lc-$srv-$N/times")
  done
  fi

  # testinfra with multiplexing: N tests each running `true`.
  if want testinfra; then
  {
    echo "import pytest"
    echo "@pytest.mark.parametrize('i', range($N))"
    echo "def test_true(host, i):"
    echo "    assert host.run('true').rc == 0"
  } > "$DIR/test_bench_$N.py"
  ssh -F "$DIR/ssh_config" -O exit bench 2>/dev/null || true
  t0=$(now)
  "$VENV/bin/pytest" -q -p no:cacheprovider --hosts=ssh://bench --ssh-config="$DIR/ssh_config" \
    "$DIR/test_bench_$N.py" > "$DIR/pytest-$N.txt" || { cat "$DIR/pytest-$N.txt"; exit 1; }
  T[testinfra,$N]=$(secs "$t0" "$(now)")
  fi

  # ansible-core: one host, N command tasks.
  if want ansible; then
  printf '[bench]\n127.0.0.1 ansible_port=%s ansible_user=root ansible_ssh_private_key_file=%s\n' \
    "$PORT" "$DIR/id_ed25519" > "$DIR/inventory"
  {
    echo "- hosts: bench"
    echo "  gather_facts: false"
    echo "  tasks:"
    for i in $(seq "$N"); do echo "    - command: 'true'"; done
  } > "$DIR/play-$N.yml"
  t0=$(now)
  ANSIBLE_PIPELINING=1 ANSIBLE_HOST_KEY_CHECKING=1 ANSIBLE_NOCOLOR=1 \
  ANSIBLE_SSH_ARGS="-o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=$DIR/known_hosts" \
  ANSIBLE_SSH_CONTROL_PATH_DIR="$DIR/cp" ANSIBLE_LOCAL_TEMP="$DIR/tmp" \
    "$VENV/bin/ansible-playbook" -i "$DIR/inventory" "$DIR/play-$N.yml" > "$DIR/ansible-$N.txt" \
    || { tail -20 "$DIR/ansible-$N.txt"; exit 1; }
  T[ansible,$N]=$(secs "$t0" "$(now)")
  fi
done

echo
printf '%-34s' "wall time (s)"; for N in $NS; do printf '%12s' "N=$N"; done; echo
for tool in $TOOLS; do
  label=$tool; [ "$tool" = labcert ] && label="labcert (--ssh-channels $CHANNELS)"
  printf '%-34s' "$label"; for N in $NS; do printf '%12s' "${T[$tool,$N]}"; done; echo
done
if want labcert; then
  echo
  printf '%-42s' "labcert, test-bed sshd (MaxSessions 200)"; for N in $NS; do printf '%12s' "${T[labcert,$N]}"; done; echo
  printf '%-42s' "labcert, stock sshd + MaxSessions 200"; for N in $NS; do printf '%12s' "${T[stock200,$N]}"; done; echo
  printf '%-42s' "labcert, stock sshd (MaxSessions 10)"; for N in $NS; do printf '%12s' "${T[stock,$N]}"; done; echo
  printf '%-42s' "stock / stock + MaxSessions 200"
  for N in $NS; do printf '%12s' "$(python3 -c "print(f'{${T[stock,$N]} / ${T[stock200,$N]}:.2f}x')")"; done; echo
  printf '%-42s' "stock / test-bed"
  for N in $NS; do printf '%12s' "$(python3 -c "print(f'{${T[stock,$N]} / ${T[labcert,$N]}:.2f}x')")"; done; echo
  printf '%-42s' "stock: blocked checks, $REPEAT runs"; for N in $NS; do printf '%12s' "${BLOCKED[$N]} blocked"; done; echo
  printf '%-42s' "stock: checks not pass, $REPEAT runs"; for N in $NS; do printf '%12s' "${NOTPASS[$N]}"; done; echo
fi
for tool in $TOOLS; do
  [ "$tool" = labcert ] && continue
  want labcert || continue
  printf '%-34s' "$tool / labcert"
  for N in $NS; do printf '%12s' "$(python3 -c "print(f'{${T[$tool,$N]} / ${T[labcert,$N]}:.1f}x')")"; done; echo
done

if want labcert; then
  for N in $NS; do
    [ "${NOTPASS[$N]}" = 0 ] || { echo "labcert: ${NOTPASS[$N]} checks (of $REPEAT runs of $N) did not pass against the stock sshd"; exit 1; }
  done
fi
