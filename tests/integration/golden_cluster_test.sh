#!/usr/bin/env bash
# The golden client becomes the cluster (issue 9): the real Debian golden
# client (scripts/golden-cache.sh --tree node: systemd, sshd, Debian's
# kernel, criu) is captured with prepareclient/getimage, then three blank
# VMs power on in order and become copies of it:
#   mosix1  BIOS, installed, boots the image's own Debian kernel (group own)
#   mosix2  UEFI, installed, boots the migration kernel (group migr)
#   mosix3  BIOS, diskless: the same image with its root in RAM, migration kernel
# Each must reach multi-user.target (`systemctl is-system-running` says
# running, or the failed units are printed), heartbeat under its boot-order
# name and address with no drift, and let root in over ssh with the golden
# client's key. Over ssh: /etc/openmosix.map is byte-identical on all three,
# machine-ids and ssh host keys differ, `criu check` passes on the migration
# kernel, and mosix3's /proc/cmdline carries no secret, only a spent
# install token (redeeming it again is refused). Last, mosix1's disk
# is compared with an export of the image: only the installer's identity
# changes may differ.
GC_TEST=golden_cluster
source "$(dirname "${BASH_SOURCE[0]}")/lib_vm.sh"
gc_vm_init "$@"
gc_require_cmds ssh rsync sfdisk mkfs.ext4 mkfs.vfat extlinux cpio

state="$GC_TMP/state"
gc_capture_golden "$state" compute
[ "$(gc_json_field "$GC_OUT" version)" = 1 ] || gc_fail_with_file "the capture is not compute@1" "$GC_OUT"
gc_build_test_kernel "$state"
bundle="$(gc_release_agent_bundle)"

gc_vm_lab_up "gc-gold-$$" 68
macs=(52:54:00:77:68:01 52:54:00:77:68:02 52:54:00:77:68:03)
profile="$GC_TMP/profile.yaml"
gc_vm_profile golden.yaml "$profile" KERNEL="${kernel%@*}" IMAGE=compute \
  MAC_OWN="${macs[0]}" MAC_MIGR="${macs[1]}" MAC_RAM="${macs[2]}"
# serve builds each group's installer when a node first needs it: from the
# image's own kernel and modules for group own, from the artifact otherwise.
gc_serve_start "$state" "$profile" --agent-bundle "$bundle"
# The artifact is served byte for byte, and nothing outside /boot/kernels.
gc_vm_http "/boot/kernels/$kernel/vmlinuz"
[ "$GC_HTTP_STATUS" = 200 ] || gc_fail_with_file "GET /boot/kernels/$kernel/vmlinuz: $GC_HTTP_STATUS" "$GC_OUT"
cmp -s "$GC_OUT" "$artifact/vmlinuz" || gc_fail "/boot/kernels/$kernel/vmlinuz differs from the artifact"
gc_vm_http "/boot/kernels/$kernel/../../files/x" --path-as-is
[ "$GC_HTTP_STATUS" = 404 ] || gc_fail "a path escaping /boot/kernels got $GC_HTTP_STATUS, want 404"

# The profile declares the three MACs (for their groups), so their names
# are fixed at serve's start: mosix1, mosix2, mosix3 (boot-order naming of
# undeclared machines is boot_naming_test's). All power on at once.
GC_VM_REBOOT=1 GC_VM_DISK_SIZE=3G GC_VM_MEM=768 gc_vm_start n1 "${macs[0]}" bios
GC_VM_REBOOT=1 GC_VM_DISK_SIZE=3G GC_VM_MEM=768 gc_vm_start n2 "${macs[1]}" uefi
GC_VM_REBOOT=1 GC_VM_MEM=2560 gc_vm_start n3 "${macs[2]}" bios

declare -A ip=()
# gc_wait_node_up NAME VM MODE KERNEL_ARTIFACT TIMEOUT_S: waits for a heartbeat
# from NAME reporting compute@1 (and the artifact, "" for the image's own
# kernel) with no drift; sets ip[NAME] to the node's address.
gc_wait_node_up() {
  local name="$1" vm="$2" mode="$3" artifact="$4" timeout deadline
  timeout="$(gc_vm_scaled "$5")"
  deadline=$((SECONDS + timeout))
  while :; do
    gc_expect_status 0 "nodes show $name" "$GOLDCAST" --state "$state" nodes show "$name" --json
    cp "$GC_OUT" "$GC_TMP/$name.json"
    if python3 - "$GC_TMP/$name.json" "$mode" "$artifact" <<'PY'; then
import json, sys
n = json.load(open(sys.argv[1]))
hb = n.get("heartbeat") or {}
ok = (hb.get("image") == "compute@1" and n.get("mode") == sys.argv[2]
      and (hb.get("kernel") or {}).get("artifact", "") == sys.argv[3] and not n.get("drift"))
sys.exit(0 if ok else 1)
PY
      ip[$name]="$(gc_json_field "$GC_TMP/$name.json" ip)"
      gc_log "$name heartbeats from ${ip[$name]} after $(gc_vm_elapsed "$vm") s"
      return 0
    fi
    [ "$SECONDS" -lt "$deadline" ] ||
      gc_fail_with_file "$name: no heartbeat with compute@1, mode $mode, kernel '$artifact' and no drift within ${timeout}s" "$GC_TMP/$name.json"
    sleep 2
  done
}

gc_wait_node_up mosix1 n1 local "" 900
gc_wait_node_up mosix2 n2 local "$kernel" 900
gc_wait_node_up mosix3 n3 diskless "$kernel" 600

# Over ssh, from the server's namespace.
declare -A machine_id=() host_key=() map_sum=()
for name in mosix1 mosix2 mosix3; do
  gc_vm_wait_ssh "${ip[$name]}" 120
  gc_vm_ssh "${ip[$name]}" 'systemctl is-system-running --wait'
  state_word="$(tr -d '\r\n' <"$GC_OUT")"
  if [ "$state_word" != running ]; then
    gc_vm_ssh "${ip[$name]}" 'systemctl --failed --no-legend; journalctl -b -p err --no-pager | tail -n 30'
    gc_fail_with_file "$name: systemctl is-system-running says '$state_word'; failed units:" "$GC_OUT"
  fi
  gc_vm_ssh "${ip[$name]}" 'hostname; cat /etc/machine-id; ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub; sha256sum </etc/openmosix.map; stat -c %a /etc/goldcast/node.json'
  [ "$GC_EXIT_STATUS" = 0 ] || gc_fail_with_file "$name: reading its identity over ssh failed" "$GC_TMP/ssh.err"
  mapfile -t lines <"$GC_OUT"
  [ "${lines[0]}" = "$name" ] || gc_fail "$name says its hostname is '${lines[0]}'"
  machine_id[$name]="${lines[1]}"
  host_key[$name]="${lines[2]}"
  map_sum[$name]="${lines[3]}"
  [ "${lines[4]}" = 600 ] || gc_fail "$name: /etc/goldcast/node.json has mode ${lines[4]}, want 600"
  gc_log "$name: running, machine-id ${lines[1]}, map ${lines[3]%% *}"
done
[ "${map_sum[mosix1]}" = "${map_sum[mosix2]}" ] && [ "${map_sum[mosix2]}" = "${map_sum[mosix3]}" ] ||
  gc_fail "/etc/openmosix.map differs between nodes: ${map_sum[*]}"
[ "$(printf '%s\n' "${machine_id[@]}" | sort -u | wc -l)" = 3 ] ||
  gc_fail "machine-ids are not all different: ${machine_id[*]}"
[ "$(printf '%s\n' "${host_key[@]}" | sort -u | wc -l)" = 3 ] ||
  gc_fail "ssh host keys are not all different: ${host_key[*]}"

# The kernels: mosix1 the image's own, mosix2 and mosix3 the migration kernel.
gc_vm_ssh "${ip[mosix1]}" 'uname -r'
[ "$(cat "$GC_OUT")" != "$release" ] || gc_fail "mosix1 runs $release, not the image's own kernel"
for name in mosix2 mosix3; do
  gc_vm_ssh "${ip[$name]}" 'uname -r; grep -c goldcast.secret /proc/cmdline || true;
    tr " " "\n" </proc/cmdline | sed -n "s/^goldcast.token=//p"'
  mapfile -t lines <"$GC_OUT"
  [ "${lines[0]}" = "$release" ] || gc_fail "$name runs '${lines[0]}', not the migration kernel $release"
  [ "${lines[1]}" = 0 ] || gc_fail "$name: /proc/cmdline still carries goldcast.secret"
done
# Issue 10, finding 2: the diskless node's token, readable by any user in
# its /proc/cmdline, was spent at boot: it buys nothing now.
[ -n "${lines[2]:-}" ] || gc_fail_with_file "mosix3: no goldcast.token= on /proc/cmdline" "$GC_OUT"
gc_vm_https "$state" /v1/node/redeem -X POST -H "X-Goldcast-Node: mosix3" \
  -H "Authorization: Bearer ${lines[2]}"
[ "$GC_HTTP_STATUS" = 401 ] ||
  gc_fail_with_file "redeeming mosix3's spent token again: HTTP $GC_HTTP_STATUS, want 401" "$GC_OUT"
gc_log "mosix3's spent token: 401 ($(head -c 80 "$GC_OUT"))"
gc_vm_ssh "${ip[mosix2]}" 'criu check 2>&1'
[ "$GC_EXIT_STATUS" = 0 ] || gc_fail_with_file "criu check failed on mosix2 (migration kernel)" "$GC_OUT"
gc_log "criu check on mosix2: $(tail -n 1 "$GC_OUT")"

# mosix1's disk against an export of the image: only identity may differ.
gc_vm_stop n1
mnt="$GC_TMP/mnt"
mkdir -p "$mnt"
mount -o ro,noload,loop,offset=1048576 "$GC_VM_DIR/n1.raw" "$mnt" ||
  gc_fail "cannot mount mosix1's root partition"
GC_MOUNTS+=("$mnt")
gc_expect_status 0 "image export compute@1" "$GOLDCAST" --state "$state" image export compute@1 \
  -o "$GC_TMP/compute.tar"
mkdir "$GC_TMP/export"
tar --xattrs --xattrs-include='*' --acls --numeric-owner -xpf "$GC_TMP/compute.tar" \
  -C "$GC_TMP/export" || gc_fail "GNU tar could not extract the export"
rm -f "$GC_TMP/compute.tar"
# What the installer writes (the node's identity, the agent, the boot
# loader) and what running the system changes (logs, journal, systemd's
# state, temp directories); a directory whose entries changed shows its mtime.
identity='etc/(hostname|hosts|machine-id|fstab|openmosix\.map|ssh|ssh/ssh_host_[a-z0-9_]+key(\.pub)?|goldcast(/.*)?|systemd/network(/.*)?|systemd/system(/multi-user\.target\.wants)?(/goldcast-agent\.service)?)|usr/local/(lib|sbin)(/goldcast-agent.*)?|boot(/extlinux(/.*)?)?|var/lib/dbus(/machine-id)?|var/lib/goldcast(/.*)?|etc|usr/local|var/lib|\.|lost\+found'
runtime='var/log/(wtmp|btmp|lastlog|journal(/.*)?)|var/lib/systemd(/.*)?|var/lib/private|tmp|var/tmp'
rsync -naHAXc --numeric-ids --itemize-changes "$GC_TMP/export/" "$mnt/" >"$GC_TMP/disk-diff.txt" 2>&1 ||
  gc_fail_with_file "rsync of mosix1's disk against the image failed" "$GC_TMP/disk-diff.txt"
if grep -vE "^[^ ]+ ($identity|$runtime)/?\$" "$GC_TMP/disk-diff.txt" >"$GC_TMP/disk-unexpected.txt"; then
  gc_fail_with_file "mosix1's disk differs from compute@1 beyond its identity" "$GC_TMP/disk-unexpected.txt"
fi
gc_log "mosix1's disk equals compute@1 except $(wc -l <"$GC_TMP/disk-diff.txt") identity and runtime paths"
gc_log "PASS"
