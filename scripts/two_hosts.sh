#!/usr/bin/env bash
# Runs one MPI job on two "hosts": two Linux network namespaces joined by a veth pair, each with
# its own address, one rank in each, Open MPI's TCP transport between them.
#
#   sudo bash scripts/two_hosts.sh PROGRAM [ARGS...]     e.g. .build/release/stackgan train ...
#
# Why namespaces: every other multi-process test runs on one host, where Open MPI may use shared
# memory or loopback. Here the ranks can only reach each other through the veth pair, the way two
# machines reach each other through a network card. The file system is shared (as on a cluster
# with NFS), so both ranks read the same dataset and rank 0 writes the run folder.
#
# Open MPI starts the second rank's daemon with a remote agent; instead of ssh it is a small
# script that enters the second namespace (plm_rsh_agent). Only the TCP BTL (and self) is allowed,
# on the veth subnet only, so shared memory cannot carry a message between the ranks.
#
# After the job, the veth pair's byte counters must show at least MIN_BYTES (default 1 MB) sent
# each way: the gradients crossed the "network", not a shortcut.
#
# Exit status: the job's own on failure; 1 when the traffic check fails; 77 (with a message saying
# why) when this machine cannot make network namespaces (not root, no iproute2, a kernel or
# container that refuses them). The namespaces and the veth pair are removed on every exit.
set -eu
min_bytes="${MIN_BYTES:-1000000}"
if [ $# -lt 1 ]; then
    echo "usage: scripts/two_hosts.sh PROGRAM [ARGS...]" >&2
    exit 2
fi
skip() { echo "two_hosts.sh: skipped: $1" >&2; exit 77; }
[ "$(id -u)" = 0 ] || skip "network namespaces need root (run it with sudo)"
command -v ip > /dev/null || skip "no ip command (Debian package iproute2)"
command -v mpirun > /dev/null || skip "no mpirun (scripts/install_deps.sh installs openmpi-bin)"

# Names unique to this run, so two runs (or a crashed one) never collide. Interface names are
# limited to 15 bytes.
tag="sg$$"
a="${tag}a" b="${tag}b"
subnet="10.213.$(($$ % 250)).0"
net="${subnet%.0}"
ip_a="$net.1" ip_b="$net.2"
work=$(mktemp -d)
cleanup() {
    ip netns del "$a" 2> /dev/null || true
    ip netns del "$b" 2> /dev/null || true  # deleting a namespace removes its end of the veth pair
    rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$a" 2> "$work/err" || skip "this kernel or container refuses network namespaces ($(head -1 "$work/err"))"
ip netns add "$b"
ip link add "${a}v" type veth peer name "${b}v" 2> "$work/err" || skip "this kernel or container cannot make a veth pair ($(head -1 "$work/err"))"
ip netns exec "$a" true 2> "$work/err" || skip "cannot run a program inside a network namespace ($(head -1 "$work/err"))"
ip link set "${a}v" netns "$a"
ip link set "${b}v" netns "$b"
ip -n "$a" addr add "$ip_a/24" dev "${a}v"
ip -n "$b" addr add "$ip_b/24" dev "${b}v"
for ns in "$a" "$b"; do
    ip -n "$ns" link set lo up
    ip -n "$ns" link set "${ns}v" up
done

# The remote agent: `agent HOST COMMAND...` runs COMMAND in HOST's namespace, as ssh would on HOST.
cat > "$work/agent" <<EOF
#!/bin/sh
host="\$1"; shift
case "\$host" in
    $ip_a) ns=$a ;;
    $ip_b) ns=$b ;;
    *) echo "two_hosts.sh agent: unknown host \$host" >&2; exit 1 ;;
esac
exec ip netns exec "\$ns" sh -c "\$*"
EOF
chmod +x "$work/agent"

# Bytes sent by one end of the veth pair.
sent() { ip netns exec "$1" cat "/sys/class/net/$1v/statistics/tx_bytes"; }
echo "two_hosts.sh: host $ip_a (namespace $a) and host $ip_b (namespace $b), joined by a veth pair"
# --oversubscribe: each "host" has the machine's cores; one rank per host either way.
status=0
ip netns exec "$a" mpirun --allow-run-as-root --oversubscribe --host "$ip_a:1,$ip_b:1" -np 2 \
    --mca plm_rsh_agent "$work/agent" \
    --mca oob_tcp_if_include "$subnet/24" --mca btl tcp,self --mca btl_tcp_if_include "$subnet/24" \
    -x OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" -x OMP_WAIT_POLICY=PASSIVE \
    "$@" || status=$?
sent_a=$(sent "$a") sent_b=$(sent "$b")
echo "two_hosts.sh: the veth pair carried $sent_a bytes from $ip_a and $sent_b bytes from $ip_b"
if [ "$status" != 0 ]; then
    echo "two_hosts.sh: the job failed (exit $status)" >&2
    exit "$status"
fi
if [ "$sent_a" -lt "$min_bytes" ] || [ "$sent_b" -lt "$min_bytes" ]; then
    echo "two_hosts.sh: under $min_bytes bytes crossed the veth pair one way; the ranks did not talk over it" >&2
    exit 1
fi
