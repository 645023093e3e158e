#!/usr/bin/env bash
# Cargo runner: boots an ELF on QEMU mps2-an386 (Cortex-M4F) and decodes defmt from
# semihosting with defmt-print. UART0 goes to $TOKENGUARD_UART (QEMU -serial syntax,
# default: a TCP server on 127.0.0.1:4444 for the device app, `null` otherwise).
# Deterministic instruction counting: TOKENGUARD_ICOUNT=1 adds `-icount shift=7` (one
# instruction = 128 ns of virtual time, 3.2 ticks of the 25 MHz timers: exact counts).
set -euo pipefail
elf="$1"
shift || true
uart="${TOKENGUARD_UART:-}"
if [ -z "$uart" ]; then
  case "$(basename "$elf")" in
    tokenguard-firmware) uart="tcp:127.0.0.1:4444,server=on,wait=off" ;;
    *) uart="null" ;;
  esac
fi
icount=()
[ "${TOKENGUARD_ICOUNT:-0}" = "1" ] && icount=(-icount shift=7)
# Started by `tokenguard-sim device qemu` in a process group of its own: if that process goes
# away by any means (even SIGKILL), stop this whole group (QEMU, defmt-print, this script;
# the group is this script's own: its id is $$).
if [ -n "${TOKENGUARD_WATCH_PID:-}" ]; then
  ( while kill -0 "$TOKENGUARD_WATCH_PID" 2>/dev/null; do sleep 0.5; done
    kill -TERM -- "-$$" 2>/dev/null ) &
fi
qemu=(qemu-system-arm -cpu cortex-m4 -machine mps2-an386 -display none -monitor none
      -serial "$uart" "${icount[@]}" -semihosting-config enable=on,target=native -kernel "$elf")
if command -v defmt-print >/dev/null 2>&1; then
  "${qemu[@]}" | defmt-print -e "$elf"
else
  echo "qemu-run: defmt-print not found; raw defmt output follows" >&2
  "${qemu[@]}"
fi
