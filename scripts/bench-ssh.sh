#!/usr/bin/env bash
# SSH side by side, in one run: N trivial command checks against one private sshd on
# loopback, with labcert, pytest-testinfra (ssh:// with ControlPath multiplexing) and
# ansible-core (pipelining + ControlPersist). Prints each wall time and the ratios.
#
#   bash scripts/bench-ssh.sh            # N = 50 and 200
#   BENCH_N="200" bash scripts/bench-ssh.sh
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
want() { [[ " $TOOLS " == *" $1 "* ]]; }

if [ ! -x /usr/sbin/sshd ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server openssh-client
fi

VENV=$REPO/target/bench-ssh-venv
if [ ! -x "$VENV/bin/ansible-playbook" ] || [ ! -x "$VENV/bin/pytest" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q pytest pytest-testinfra ansible-core
fi

cargo build --release -q
LABCERT=$REPO/target/release/labcert

DIR=$(mktemp -d /tmp/labcert-bench-ssh.XXXXXX)
cleanup() {
  [ -f "$DIR/sshd.pid" ] && kill "$(cat "$DIR/sshd.pid")" 2>/dev/null || true
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

cat > "$DIR/ssh_config" <<EOF
Host bench
  HostName 127.0.0.1
  Port $PORT
  User root
  IdentityFile $DIR/id_ed25519
  UserKnownHostsFile $DIR/known_hosts
  StrictHostKeyChecking yes
  ControlMaster auto
  ControlPath $DIR/cm.sock
  ControlPersist 60
EOF

now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.3f}')"; }

declare -A T
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
for tool in $TOOLS; do
  [ "$tool" = labcert ] && continue
  want labcert || continue
  printf '%-34s' "$tool / labcert"
  for N in $NS; do printf '%12s' "$(python3 -c "print(f'{${T[$tool,$N]} / ${T[labcert,$N]}:.1f}x')")"; done; echo
done
