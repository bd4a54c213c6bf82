#!/usr/bin/env python3
"""A terminal program loading libSSCardDriver.so through ctypes, as a Python integrator would.

Same line protocol as tests/c/driver_calls.c: reads `FUNCTION<TAB>ARG...` per line (ints in
decimal, strings as hex of their GBK bytes), prints `CODE<TAB>HEX-OF-pOutInfo`. The library path
is the first argument. Used by tests/pcsc_driver.rs.
"""
import ctypes
import sys

INT, STR = ctypes.c_int, ctypes.c_char_p
SIGNATURES = {
    "iReadCardBas": [INT],
    "iReadCard": [INT, INT, STR, STR],
    "iWriteCard": [INT, STR, STR, STR],
    "iVerifyPIN": [INT],
    "iChangePIN": [INT],
    "iReloadPIN": [INT, STR],
    "iUnblockPIN": [INT, STR],
    "iDoDebit": [INT, STR, STR],
    "iReadDebitRecord": [INT],
    "iReadCardBas_HSM_Step1": [INT],
    "iReadCardBas_HSM_Step2": [STR],
    "iReadCard_HSM_Step1": [INT, STR, STR],
    "iReadCard_HSM_Step2": [STR],
    "iWriteCard_HSM_Step1": [INT, STR, STR],
    "iWriteCard_HSM_Step2": [STR, STR],
    "iReloadPIN_HSM_Step1": [INT, STR],
    "iReloadPIN_HSM_Step2": [STR],
    "iReloadPIN_HSM_Step3": [STR],
    "iUnblockPIN_HSM_Step1": [INT, STR],
    "iUnblockPIN_HSM_Step2": [STR],
    "iUnblockPIN_HSM_Step3": [STR],
    "iDoDebit_HSM_Step1": [INT, STR, STR],
    "iDoDebit_HSM_Step2": [STR],
}
CANARY = 0xA5
CANARY_LEN = 64


def capacity(name):
    if name == "iReadCard":
        return 20 * 1024
    if name == "iReadDebitRecord":
        return 2048
    if "_HSM_Step" in name or name == "iReadCardBas":
        return 1024
    return 512


def main():
    lib = ctypes.CDLL(sys.argv[1])
    functions = {}
    for name, args in SIGNATURES.items():
        f = getattr(lib, name)  # a library lacking one of the 23 is refused here
        f.restype = ctypes.c_long
        f.argtypes = args + [ctypes.c_char_p]
        functions[name] = f
    for line in sys.stdin:
        fields = line.rstrip("\r\n").split("\t")
        name, raw = fields[0], fields[1:]
        args = [int(a) if t is INT else bytes.fromhex(a) for t, a in zip(SIGNATURES[name], raw)]
        size = capacity(name)
        buf = ctypes.create_string_buffer(bytes([CANARY]) * (size + CANARY_LEN), size + CANARY_LEN)
        code = functions[name](*args, buf)
        raw_out = buf.raw
        if any(b != CANARY for b in raw_out[size:]):
            sys.exit(f"{name} wrote past its buffer")
        nul = raw_out.find(b"\0")
        if nul < 0 or nul >= size:
            sys.exit(f"{name} left no NUL inside its buffer")
        print(f"{code}\t{raw_out[:nul].hex().upper()}", flush=True)


if __name__ == "__main__":
    main()
