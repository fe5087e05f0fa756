#!/usr/bin/env bash
# Builds a directory tree that holds every file type and metadata kind goldcast
# must capture, store and export faithfully, so integration tests can compare a
# round trip against it with `rsync -naHAXc --numeric-ids`.
#
# Usage: make-test-tree.sh [--random-mib N] DIR
#   DIR must be absent or empty. Needs root (devices, ownership, capabilities).
#   --random-mib N  also writes N MiB of incompressible data as 4 MiB files
#                   under bulk/ (used to make transfers long enough to interrupt).
#
# Layout (all paths relative to DIR; none under the agent's default excludes
# such as dev/, tmp/, run/):
#   files/        empty, small text files small-1..small-5, random-3m, big-20m
#   modes/        setuid 04755, setgid 02755, 0600, 0444 files; sticky/ dir 01777
#   links/        relative, absolute and dangling symlinks
#   hard/         a, b, and files/hard-c: three names of one inode
#   devices/      char 1:3, block 7:0, fifo, unix socket
#   xattr/        user.* xattrs with binary values, on a file and a directory
#   acl/          access ACLs on a file, access + default ACL on a directory
#   caps/         a file with cap_net_raw+ep
#   sparse/       10 MiB file with one 4 KiB data block at 5 MiB
#   owners/       file and dir owned by 1234:5678
#   times/        mtime with nanoseconds (2021-03-04 05:06:07.123456789 UTC)
#   names/        names with spaces and UTF-8
# Directory mtimes are set last (deepest first) to a fixed time, so that a
# correct copy matches them exactly.
set -euo pipefail

die() {
  echo "make-test-tree: error: $*" >&2
  exit 1
}

random_mib=0
while [ $# -gt 0 ]; do
  case "$1" in
    --random-mib)
      [ $# -ge 2 ] || die "--random-mib needs a number of MiB"
      random_mib="$2"
      shift 2
      ;;
    -h | --help)
      sed -n '2,26p' "$0"
      exit 0
      ;;
    -*) die "unknown option '$1' (see --help)" ;;
    *) break ;;
  esac
done
[ $# -eq 1 ] || die "usage: make-test-tree.sh [--random-mib N] DIR"
[[ "$random_mib" =~ ^[0-9]+$ ]] || die "--random-mib wants a whole number, got '$random_mib'"
[ "$(id -u)" -eq 0 ] || die "needs root (mknod, chown, setcap)"
for tool in setfattr setfacl setcap python3 truncate; do
  command -v "$tool" >/dev/null || die "'$tool' not found; install attr, acl, libcap2-bin, python3"
done

root="$1"
mkdir -p "$root"
[ -z "$(ls -A "$root")" ] || die "'$root' is not empty; give a new or empty directory"
root="$(cd "$root" && pwd)"
cd "$root"
chmod 0755 .

random_file() {  # PATH BYTES
  head -c "$2" /dev/urandom >"$1"
}

# Regular files.
mkdir files
: >files/empty
printf 'hello goldcast\n' >files/small.txt
for i in 1 2 3 4 5; do
  printf 'small file %d\nline two\n' "$i" >"files/small-$i"
done
random_file files/random-3m $((3 * 1024 * 1024))
random_file files/big-20m $((20 * 1024 * 1024))

# Modes. chown clears setuid/setgid, so modes are set after ownership.
mkdir modes modes/sticky
chmod 01777 modes/sticky
printf 'in sticky dir\n' >modes/sticky/inside
printf '#!/bin/sh\necho setuid\n' >modes/setuid
chmod 04755 modes/setuid
printf '#!/bin/sh\necho setgid\n' >modes/setgid
chown 0:5678 modes/setgid
chmod 02755 modes/setgid
printf 'private\n' >modes/mode-0600
chmod 0600 modes/mode-0600
printf 'read only\n' >modes/mode-0444
chmod 0444 modes/mode-0444

# Symlinks: relative (resolves inside the tree), absolute, dangling.
mkdir links
ln -s ../files/small.txt links/relative
ln -s /etc/hostname links/absolute
ln -s no/such/target links/dangling
ln -s . links/self-dir

# One inode, three names in two directories.
mkdir hard
printf 'hardlinked content\n' >hard/a
ln hard/a hard/b
ln hard/a files/hard-c

# Devices, fifo and a socket (bound, then left behind by the exiting process).
mkdir devices
mknod devices/char-null c 1 3
mknod devices/block-loop0 b 7 0
chmod 0660 devices/block-loop0
mkfifo devices/fifo
python3 -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' \
  devices/socket
[ -S devices/socket ] || die "could not create the unix socket devices/socket"

# Extended attributes with binary values (NUL and high bytes).
mkdir xattr
printf 'has xattrs\n' >xattr/file
setfattr -n user.comment -v "plain text value" xattr/file
setfattr -n user.binary -v 0x00ff10fe7f8000 xattr/file
setfattr -n user.empty xattr/file
setfattr -n user.dirattr -v 0x0102030405 xattr

# POSIX ACLs: access ACL on a file, access + default ACL on a directory.
mkdir acl acl/dir
printf 'has acl\n' >acl/file
setfacl -m u:1234:rw-,g:5678:r--,m::rw- acl/file
setfacl -m u:1234:rwx acl/dir
setfacl -d -m u:1234:r-x,g:5678:rwx,o::--- acl/dir

# File capability (security.capability xattr); set after chmod, which keeps it.
mkdir caps
printf '#!/bin/sh\necho cap\n' >caps/netraw
chmod 0755 caps/netraw
setcap cap_net_raw+ep caps/netraw

# Sparse: 10 MiB apparent, one 4 KiB block of data at 5 MiB.
mkdir sparse
truncate -s 10M sparse/sparse-10m
head -c 4096 /dev/urandom | dd of=sparse/sparse-10m bs=4096 seek=1280 conv=notrunc status=none

# Ownership by ids that have no name on this system.
mkdir owners owners/dir
printf 'owned\n' >owners/file
chown 1234:5678 owners/file owners/dir
ln -s ../files/small.txt owners/link
chown -h 1234:5678 owners/link

# Nanosecond mtime, on a file and on a symlink.
mkdir times
printf 'nanoseconds\n' >times/nsec
touch -m -d '2021-03-04 05:06:07.123456789 UTC' times/nsec
ln -s nsec times/nsec-link
touch -h -m -d '2019-12-31 23:59:59.987654321 UTC' times/nsec-link

# Names with spaces and UTF-8.
mkdir -p 'names/dir with spaces'
printf 'spaces\n' >'names/dir with spaces/file with spaces.txt'
printf 'utf8\n' >'names/ünïcødé-名前.txt'
printf 'tab\n' >$'names/tab\there'

if [ "$random_mib" -gt 0 ]; then
  mkdir bulk
  remaining=$random_mib
  n=0
  while [ "$remaining" -gt 0 ]; do
    chunk=$((remaining < 4 ? remaining : 4))
    random_file "bulk/chunk-$(printf '%04d' "$n")" $((chunk * 1024 * 1024))
    remaining=$((remaining - chunk))
    n=$((n + 1))
  done
fi

# Directory mtimes last, children before parents, so nothing touches them after.
find . -depth -type d -print0 | xargs -0 touch -m -d '2020-01-02 03:04:05.250000000 UTC'
echo "make-test-tree: built $root ($(du -sk . | cut -f1) KiB on disk)"
