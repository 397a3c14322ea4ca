#!/usr/bin/env bash
# Rebuilds the `elf` target's seeds from tiny.c (needs gcc; the outputs are committed).
set -euo pipefail
cd "$(dirname "$0")"
out=../seeds/elf
mkdir -p "$out"
common=(-Os -nostdlib -fno-asynchronous-unwind-tables -Wl,--build-id=none -s)
gcc "${common[@]}" -static -no-pie -o "$out/static" tiny.c
gcc "${common[@]}" -static-pie -fpie -o "$out/static-pie" tiny.c
gcc "${common[@]}" -fpie -pie -Wl,-z,execstack -o "$out/dynamic-execstack" tiny.c
gcc "${common[@]}" -static -no-pie -Wl,-z,max-page-size=0x1000 -Wl,-z,noseparate-code -o "$out/static-packed" tiny.c
ls -l "$out"
