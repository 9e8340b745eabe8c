#!/bin/sh
# Re-records test/glibc/expected-2.43 with Debian unstable's glibc 2.43, run on this machine with its
# own dynamic loader (fetched by shared/tools/debian13-glibc.sh into $GLIBC_CACHE, default
# ~/.cache/debian-glibc):   sh test/glibc/record-2.43.sh      (from packages/libc-malloc)
set -e
dir=$(dirname "$0")
lib=${GLIBC_CACHE:-$HOME/.cache/debian-glibc}/glibc-2.43/usr/lib/x86_64-linux-gnu
[ -x "$lib/ld-linux-x86-64.so.2" ] || { echo "no glibc 2.43 under $lib: run debian13-glibc.sh first" >&2; exit 1; }
gcc -O1 -o "${TMPDIR:-/tmp}/glibc-malloc-driver" "$dir/driver.c"
mkdir -p "$dir/expected-2.43"
for s in "$dir"/scripts/*.txt; do
  name=$(basename "$s" .txt)
  set +e
  tunables=$(sed -n 's/^# tunables: //p' "$s")
  GLIBC_TUNABLES="$tunables" "$lib/ld-linux-x86-64.so.2" --library-path "$lib:/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu" \
    "${TMPDIR:-/tmp}/glibc-malloc-driver" < "$s" > "$dir/expected-2.43/$name.out" 2>&1
  code=$?
  sed -i "/^Aborted$/d;/^Segmentation fault$/d" "$dir/expected-2.43/$name.out"
  echo "exit $code" >> "$dir/expected-2.43/$name.out"
  set -e
done
rm -f "${TMPDIR:-/tmp}/glibc-malloc-driver"
