#!/bin/sh
# Re-records the expected outputs of every script (from packages/libc-malloc):
#
#   sh test/glibc/record.sh            this machine's glibc             -> test/glibc/expected
#   sh test/glibc/record.sh 2.41       Debian 13's glibc 2.41           -> test/glibc/expected-2.41
#   sh test/glibc/record.sh 2.43       Debian unstable's glibc 2.43     -> test/glibc/expected-2.43
#
# A version runs the driver with that glibc's own dynamic loader, fetched by
# shared/tools/debian13-glibc.sh into $GLIBC_CACHE (default ~/.cache/debian-glibc); the
# driver's other libraries come from this machine.
set -e
dir=$(dirname "$0")
version=${1:-}
driver="${TMPDIR:-/tmp}/glibc-malloc-driver-$$"
if [ -n "$version" ]; then
  lib=${GLIBC_CACHE:-$HOME/.cache/debian-glibc}/glibc-$version/usr/lib/x86_64-linux-gnu
  [ -x "$lib/ld-linux-x86-64.so.2" ] || { echo "no glibc $version under $lib: run debian13-glibc.sh first" >&2; exit 1; }
  out="$dir/expected-$version"
else
  out="$dir/expected"
fi
gcc -O1 -o "$driver" "$dir/driver.c"
mkdir -p "$out"
for s in "$dir"/scripts/*.txt; do
  name=$(basename "$s" .txt)
  set +e
  # a "# tunables: ..." line sets GLIBC_TUNABLES for that script
  tunables=$(sed -n 's/^# tunables: //p' "$s")
  if [ -n "$version" ]; then
    GLIBC_TUNABLES="$tunables" "$lib/ld-linux-x86-64.so.2" --library-path "$lib:/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu" \
      "$driver" < "$s" > "$out/$name.out" 2>&1
  else
    GLIBC_TUNABLES="$tunables" "$driver" < "$s" > "$out/$name.out" 2>&1
  fi
  code=$?
  # the shell reports the signal ("Aborted") into the redirected output: not glibc's
  sed -i "/^Aborted$/d;/^Segmentation fault$/d" "$out/$name.out"
  echo "exit $code" >> "$out/$name.out"
  set -e
done
rm -f "$driver"
