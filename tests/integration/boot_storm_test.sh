#!/usr/bin/env bash
# A boot storm cut by kill -9 (issue 10, item 7): machines ask for their
# boot scripts 8 at a time (all from one address, so serve's per-address
# limit is lifted) and serve is killed with SIGKILL while they do. After a
# restart every name that was answered must still belong to the MAC it was
# answered to, the names must be dense (boot order: no index skipped), and
# the machines that got no answer are named after them, in order.
GC_TEST=boot_storm
source "$(dirname "${BASH_SOURCE[0]}")/lib_vm.sh"
gc_vm_init "$@"

gc_vm_lab_up "gc-storm-$$" 61
state="$GC_TMP/state"
profile="$GC_TMP/profile.yaml"
gc_vm_profile lab.yaml "$profile" PREFIX=storm
gc_vm_state_prepare "$state"
gc_serve_start "$state" "$profile" --new-machines-per-address 0

macs=85  # node_addresses .11-.99 hold 89
answers="$GC_TMP/answers.txt"
: >"$answers"
# Each answered request appends "MAC NAME" as soon as its answer arrived.
gc_vm_ns_exec python3 - "$(gc_vm_url /boot/ipxe)" "$macs" "$answers" >"$GC_TMP/storm.log" 2>&1 <<'PY' &
import sys, threading, urllib.request, re
url, count, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
lock = threading.Lock()
macs = ["52:54:00:61:%02x:%02x" % (i // 256, i % 256) for i in range(1, count + 1)]
def worker(k):
    for mac in macs[k::8]:
        try:
            body = urllib.request.urlopen(url + "?mac=" + mac, timeout=5).read().decode()
        except Exception as e:
            continue  # serve is down: no answer, nothing promised
        m = re.search(r"goldcast\.node=(\S+)", body)
        if m:
            with lock, open(out, "a") as f:
                f.write("%s %s\n" % (mac, m.group(1)))
threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
for t in threads: t.start()
for t in threads: t.join()
PY
client=$!
deadline=$((SECONDS + 60))
until [ "$(wc -l <"$answers")" -ge 20 ]; do
  [ "$SECONDS" -lt "$deadline" ] || gc_fail_with_file "the storm got no 20 answers in 60 s" "$GC_TMP/storm.log"
  sleep 0.01
done
dnsmasq_pids="$(gc_dnsmasq_pids)"
kill -KILL "$GC_SERVE_PID"
before="$(wc -l <"$answers")"
wait "$client"
# serve's dnsmasq outlives it (it holds the DHCP port): end it too.
for pid in $dnsmasq_pids; do kill -TERM "$pid" 2>/dev/null || true; done
gc_log "serve killed (-9) after $before answers; $(wc -l <"$answers") in all"
[ "$(wc -l <"$answers")" -lt "$macs" ] || gc_fail "serve answered all $macs before the kill: the test proves nothing"

gc_serve_start "$state" "$profile" --new-machines-per-address 0
# Everyone asks again: the answered keep their names, the rest are named now.
again="$GC_TMP/again.txt"
for mac in $(python3 -c "print(' '.join('52:54:00:61:%02x:%02x' % (i // 256, i % 256) for i in range(1, $macs + 1)))"); do
  gc_vm_http "/boot/ipxe?mac=$mac"
  [ "$GC_HTTP_STATUS" = 200 ] || gc_fail_with_file "after the restart $mac got HTTP $GC_HTTP_STATUS" "$GC_OUT"
  echo "$mac $(grep -o 'goldcast\.node=[^ ]*' "$GC_OUT" | cut -d= -f2)" >>"$again"
done
gc_nodes_json "$GC_TMP/nodes.json"
python3 - "$answers" "$again" "$GC_TMP/nodes.json" "$macs" <<'PY' || gc_fail_with_file "names after the kill" "$GC_TMP/nodes.json"
import json, sys
answered = dict(l.split() for l in open(sys.argv[1]) if l.strip())
again = dict(l.split() for l in open(sys.argv[2]) if l.strip())
nodes = {n["mac"].lower(): n for n in json.load(open(sys.argv[3]))}
count = int(sys.argv[4])
lost = {m: n for m, n in answered.items() if nodes.get(m, {}).get("name") != n}
assert not lost, "answered names lost or changed by kill -9: %s" % lost
assert all(again[m] == n for m, n in answered.items()), "a node was renamed after the restart"
indices = sorted(n["index"] for n in nodes.values())
assert indices == list(range(1, count + 1)), "names are not storm1..storm%d: %s" % (count, indices)
assert len(set(n["ip"] for n in nodes.values())) == count, "addresses are not all different"
print("ok: %d answered before the kill kept their names; %d nodes, dense" % (len(answered), len(nodes)))
PY
gc_log "every answered name survived kill -9; names dense 1..$macs"
gc_serve_stop
