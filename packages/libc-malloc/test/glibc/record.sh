#!/bin/sh
# Re-records the expected outputs of every script with this machine's glibc:
#   sh test/glibc/record.sh      (from packages/libc-malloc)
set -e
dir=$(dirname "$0")
gcc -O1 -o "${TMPDIR:-/tmp}/glibc-malloc-driver" "$dir/driver.c"
mkdir -p "$dir/expected"
for s in "$dir"/scripts/*.txt; do
  name=$(basename "$s" .txt)
  set +e
  # a "# tunables: ..." line sets GLIBC_TUNABLES for that script
  tunables=$(sed -n 's/^# tunables: //p' "$s")
  GLIBC_TUNABLES="$tunables" "${TMPDIR:-/tmp}/glibc-malloc-driver" < "$s" > "$dir/expected/$name.out" 2>&1
  code=$?
  # the shell reports the signal ("Aborted") into the redirected output: not glibc's
  sed -i "/^Aborted$/d;/^Segmentation fault$/d" "$dir/expected/$name.out"
  echo "exit $code" >> "$dir/expected/$name.out"
  set -e
done
