"""Distinct, correctly signed Jira deliveries from wrk: HMAC-SHA256 finished in Lua from midstates.

taskhub treats a byte-identical body already received for a source as a duplicate (the replay
guard, issue 16 §5), so a benchmark of the insert path must send a different body each time —
and sign each one, which wrk's Lua cannot do from scratch at speed. The body here is a fixed
prefix whose length fills whole SHA-256 blocks, then one 64-byte block holding a per-request
nonce and the event's ``timestamp`` (rising from the script's start, as a live Jira's do: the
replay guard's index is led by it). Python computes the SHA-256 state after the fixed part
(the HMAC inner pad plus the prefix) and after the outer pad; the Lua script only compresses
the last block, the inner padding block and the outer block: three SHA-256 compressions per
request in LuaJIT.

``lua_script(secret, body)`` returns the wrk script; ``sign_like_lua`` redoes the same steps in
Python and is checked against ``hmac`` when the script is made, so a wrong midstate fails at once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import struct
import time

__all__ = ["NONCE_LEN", "template_body", "lua_script", "sign_like_lua"]

NONCE_LEN = 16
TS_LEN = 13  # milliseconds since the epoch, 2001..2286
_K = [
    0x428A2F98, 0x71374491, 0xB5C0FBCF, 0xE9B5DBA5, 0x3956C25B, 0x59F111F1, 0x923F82A4, 0xAB1C5ED5,
    0xD807AA98, 0x12835B01, 0x243185BE, 0x550C7DC3, 0x72BE5D74, 0x80DEB1FE, 0x9BDC06A7, 0xC19BF174,
    0xE49B69C1, 0xEFBE4786, 0x0FC19DC6, 0x240CA1CC, 0x2DE92C6F, 0x4A7484AA, 0x5CB0A9DC, 0x76F988DA,
    0x983E5152, 0xA831C66D, 0xB00327C8, 0xBF597FC7, 0xC6E00BF3, 0xD5A79147, 0x06CA6351, 0x14292967,
    0x27B70A85, 0x2E1B2138, 0x4D2C6DFC, 0x53380D13, 0x650A7354, 0x766A0ABB, 0x81C2C92E, 0x92722C85,
    0xA2BFE8A1, 0xA81A664B, 0xC24B8B70, 0xC76C51A3, 0xD192E819, 0xD6990624, 0xF40E3585, 0x106AA070,
    0x19A4C116, 0x1E376C08, 0x2748774C, 0x34B0BCB5, 0x391C0CB3, 0x4ED8AA4A, 0x5B9CCA4F, 0x682E6FF3,
    0x748F82EE, 0x78A5636F, 0x84C87814, 0x8CC70208, 0x90BEFFFA, 0xA4506CEB, 0xBEF9A3F7, 0xC67178F2,
]
_H0 = [0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19]
_M = 0xFFFFFFFF


def _ror(x: int, n: int) -> int:
    return ((x >> n) | (x << (32 - n))) & _M


def _compress(state: list[int], block: bytes) -> list[int]:
    w = list(struct.unpack(">16I", block)) + [0] * 48
    for i in range(16, 64):
        s0 = _ror(w[i - 15], 7) ^ _ror(w[i - 15], 18) ^ (w[i - 15] >> 3)
        s1 = _ror(w[i - 2], 17) ^ _ror(w[i - 2], 19) ^ (w[i - 2] >> 10)
        w[i] = (w[i - 16] + s0 + w[i - 7] + s1) & _M
    a, b, c, d, e, f, g, h = state
    for i in range(64):
        t1 = (h + (_ror(e, 6) ^ _ror(e, 11) ^ _ror(e, 25)) + ((e & f) ^ (~e & g)) + _K[i] + w[i]) & _M
        t2 = ((_ror(a, 2) ^ _ror(a, 13) ^ _ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) & _M
        a, b, c, d, e, f, g, h = (t1 + t2) & _M, a, b, c, (d + t1) & _M, e, f, g
    return [(x + y) & _M for x, y in zip(state, (a, b, c, d, e, f, g, h), strict=True)]


def template_body(json_body: bytes, size: int) -> tuple[bytes, bytes, bytes, bytes]:
    """Split a ``size``-byte JSON object into (prefix, before the timestamp, between it and the
    nonce, after the nonce): the prefix is whole blocks after the 64-byte HMAC pad (the object
    without its ``timestamp``), the last 64 bytes are ``, "timestamp": <13>, "bench_nonce":
    "<16>"}``."""
    if size % 64 or size < 128:
        raise ValueError("size must be a multiple of 64 bytes, at least 128")
    obj = json.loads(json_body)
    if not isinstance(obj, dict):
        raise ValueError("the body must be a JSON object")
    obj.pop("timestamp", None)
    head = json.dumps(obj).encode()
    before, mid, after = b', "timestamp": ', b', "bench_nonce": "', b'"}'
    pad = 64 - len(before) - TS_LEN - len(mid) - NONCE_LEN - len(after)
    prefix = head[:-1].ljust(size - 64 - pad) + b" " * pad
    if len(prefix) != size - 64:
        raise ValueError(f"the JSON body is longer than {size - 64} bytes")
    return prefix, before, mid, after


def sign_like_lua(secret: bytes, prefix: bytes, last_block: bytes) -> str:
    """The signature computed the way the Lua script does (midstates, then three blocks)."""
    inner_mid, outer_mid = _midstates(secret, prefix)
    length = 64 + len(prefix) + 64
    inner = _compress(_compress(inner_mid, last_block), b"\x80" + b"\0" * 55 + struct.pack(">Q", length * 8))
    digest = struct.pack(">8I", *inner)
    out = _compress(outer_mid, digest + b"\x80" + b"\0" * 23 + struct.pack(">Q", (64 + 32) * 8))
    return "sha256=" + "".join(f"{x:08x}" for x in out)


def _midstates(secret: bytes, prefix: bytes) -> tuple[list[int], list[int]]:
    k0 = (hashlib.sha256(secret).digest() if len(secret) > 64 else secret).ljust(64, b"\0")
    state = _compress(_H0, bytes(b ^ 0x36 for b in k0))
    for i in range(0, len(prefix), 64):
        state = _compress(state, prefix[i:i + 64])
    return state, _compress(_H0, bytes(b ^ 0x5C for b in k0))


def _lua_str(data: bytes) -> str:
    return '"' + "".join(f"\\{b}" for b in data) + '"'


def lua_script(secret: bytes, json_body: bytes, size: int) -> str:
    """A wrk script posting ``size``-byte bodies with a fresh nonce, identifier and signature."""
    prefix, before, mid, after = template_body(json_body, size)
    sample = before + b"1" * TS_LEN + mid + b"0" * NONCE_LEN + after
    expected = "sha256=" + hmac.new(secret, prefix + sample, hashlib.sha256).hexdigest()
    if sign_like_lua(secret, prefix, sample) != expected:
        raise AssertionError("midstate HMAC does not match hmac: bench/wrk_hmac.py is broken")
    inner_mid, outer_mid = _midstates(secret, prefix)
    length = 64 + size
    return f"""
local bit = require("bit")
local band, bxor, rshift, ror, tobit, bnot, tohex = bit.band, bit.bxor, bit.rshift, bit.ror, bit.tobit, bit.bnot, bit.tohex
local K = {{{", ".join(str(k) for k in _K)}}}
local INNER = {{{", ".join(str(x) for x in inner_mid)}}}
local OUTER = {{{", ".join(str(x) for x in outer_mid)}}}
local PREFIX = {_lua_str(prefix)}
local BEFORE = {_lua_str(before)}
local MID = {_lua_str(mid)}
local AFTER = {_lua_str(after)}
local TS0 = {int(time.time() * 1000)}
local SALT = "{secrets.token_hex(2)}"
local INNER_PAD = "\\128" .. string.rep("\\0", 55) .. {_lua_str(struct.pack(">Q", length * 8))}
local OUTER_PAD = "\\128" .. string.rep("\\0", 23) .. {_lua_str(struct.pack(">Q", (64 + 32) * 8))}
local w = {{}}
local function compress(H, block)
  for i = 0, 15 do
    local a, b, c, d = block:byte(i * 4 + 1, i * 4 + 4)
    w[i] = tobit(a * 16777216 + b * 65536 + c * 256 + d)
  end
  for i = 16, 63 do
    local x, y = w[i - 15], w[i - 2]
    w[i] = tobit(w[i - 16] + bxor(ror(x, 7), ror(x, 18), rshift(x, 3)) + w[i - 7]
                 + bxor(ror(y, 17), ror(y, 19), rshift(y, 10)))
  end
  local a, b, c, d, e, f, g, h = H[1], H[2], H[3], H[4], H[5], H[6], H[7], H[8]
  for i = 0, 63 do
    local t1 = tobit(h + bxor(ror(e, 6), ror(e, 11), ror(e, 25)) + bxor(band(e, f), band(bnot(e), g)) + K[i + 1] + w[i])
    local t2 = tobit(bxor(ror(a, 2), ror(a, 13), ror(a, 22)) + bxor(band(a, b), band(a, c), band(b, c)))
    h, g, f, e, d, c, b, a = g, f, e, tobit(d + t1), c, b, a, tobit(t1 + t2)
  end
  return {{tobit(H[1] + a), tobit(H[2] + b), tobit(H[3] + c), tobit(H[4] + d),
          tobit(H[5] + e), tobit(H[6] + f), tobit(H[7] + g), tobit(H[8] + h)}}
end
local function bytes(H)
  local out = {{}}
  for i = 1, 8 do
    local x = H[i]
    out[i] = string.char(band(rshift(x, 24), 255), band(rshift(x, 16), 255), band(rshift(x, 8), 255), band(x, 255))
  end
  return table.concat(out)
end
-- ``tid`` is a global each thread gets from setup (a ``local`` would shadow it); the salt
-- differs per script, so the warm-up run and the measured run send different bodies.
local counter = 0
local threads = 0
setup = function(thread) threads = threads + 1; thread:set("tid", threads) end
request = function()
  counter = counter + 1
  local nonce = string.format("%s%02d%010d", SALT, tid % 100, counter)
  local last = BEFORE .. string.format("%013d", TS0 + counter) .. MID .. nonce .. AFTER
  local out = compress(OUTER, bytes(compress(compress(INNER, last), INNER_PAD)) .. OUTER_PAD)
  local hex = {{}}
  for i = 1, 8 do hex[i] = tohex(out[i], 8) end
  wrk.headers["X-Hub-Signature"] = "sha256=" .. table.concat(hex)
  wrk.headers["X-Atlassian-Webhook-Identifier"] = "bench-" .. tid .. "-" .. counter .. "-" .. os.time()
  return wrk.format("POST", nil, nil, PREFIX .. last)
end
"""
