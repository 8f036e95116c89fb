// The dec3 wire code (see attn_widget/wire/dec3.py): a uint16 per value, rounded in Python to three
// significant digits. Decoding gives the value for colour; formatting gives the exact text Python's
// format(v, ".3g") gives, so a tooltip never disagrees with the kernel.
import type { Binary } from "./types";

export const E_MIN = -32;
export const E_MAX = 3;
const MANTISSAS = 900;
export const TINY_POS = 1 + 2 * (E_MAX - E_MIN + 1) * MANTISSAS; // 64801
export const TINY_NEG = TINY_POS + 1;
export const HUGE_POS = TINY_POS + 2;
export const HUGE_NEG = TINY_POS + 3;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The bytes of a binary trait or message buffer, honouring a non-zero byteOffset. */
export function bytesOf(data: Binary): Uint8Array {
  if (data == null) return new Uint8Array(0);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError(`expected binary data, got ${typeof data}`);
}

/** Little-endian uint16 codes from bytes; copies only when the view is misaligned. */
export function codesOf(data: Binary): Uint16Array {
  const bytes = bytesOf(data);
  if (bytes.byteLength % 2 !== 0) {
    throw new RangeError(`dec3 data must have an even byte length, got ${bytes.byteLength}`);
  }
  const n = bytes.byteLength / 2;
  if (LITTLE_ENDIAN) {
    if (bytes.byteOffset % 2 === 0) return new Uint16Array(bytes.buffer, bytes.byteOffset, n);
    return new Uint16Array(bytes.slice().buffer);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) out[i] = view.getUint16(2 * i, true);
  return out;
}

/** The value of one code (range-limit codes decode to the range edge or +-Infinity). */
export function decodeValue(code: number): number {
  if (code === 0) return 0;
  if (code >= TINY_POS) {
    if (code === TINY_POS) return 10 ** E_MIN;
    if (code === TINY_NEG) return -(10 ** E_MIN);
    return code === HUGE_POS ? Infinity : -Infinity;
  }
  const idx = (code - 1) >> 1;
  const sign = (code - 1) & 1 ? -1 : 1;
  const exponent = Math.floor(idx / MANTISSAS) + E_MIN;
  const mantissa = (idx % MANTISSAS) + 100;
  const scale = exponent - 2;
  // Divide by an exact power of ten rather than multiply by an inexact negative one.
  return scale >= 0 ? sign * mantissa * 10 ** scale : (sign * mantissa) / 10 ** -scale;
}

let table: Float32Array | null = null;

/** All 65536 code values, built once on first use (one power of ten per exponent). */
export function valueTable(): Float32Array {
  if (table === null) {
    const t = new Float32Array(65536);
    for (let e = E_MIN; e <= E_MAX; e++) {
      const scale = e - 2;
      const power = 10 ** Math.abs(scale);
      const base = 1 + 2 * (e - E_MIN) * MANTISSAS;
      for (let m = 100; m < 1000; m++) {
        const v = scale >= 0 ? m * power : m / power;
        t[base + 2 * (m - 100)] = v;
        t[base + 2 * (m - 100) + 1] = -v;
      }
    }
    for (let c = TINY_POS; c < 65536; c++) t[c] = decodeValue(c);
    table = t;
  }
  return table;
}

export function decodeCodes(codes: Uint16Array): Float32Array {
  const lut = valueTable();
  const out = new Float32Array(codes.length);
  for (let i = 0; i < codes.length; i++) out[i] = lut[codes[i]];
  return out;
}

/** The text shown for a code: Python's format(value, ".3g"), trailing zeros dropped. */
export function formatCode(code: number): string {
  if (code === 0) return "0";
  if (code === TINY_POS || code === TINY_NEG) return `${code === TINY_NEG ? "-" : ""}<1e${E_MIN}`;
  if (code === HUGE_POS || code === HUGE_NEG) {
    return `${code === HUGE_NEG ? "-" : ""}>=1e+${String(E_MAX + 1).padStart(2, "0")}`;
  }
  const idx = (code - 1) >> 1;
  const minus = (code - 1) & 1 ? "-" : "";
  const exponent = Math.floor(idx / MANTISSAS) + E_MIN;
  const digits = String((idx % MANTISSAS) + 100).replace(/0+$/, "");
  if (exponent >= -4 && exponent < 3) {
    const point = exponent + 1; // digits before the decimal point
    if (point <= 0) return `${minus}0.${"0".repeat(-point)}${digits}`;
    if (point >= digits.length) return minus + digits + "0".repeat(point - digits.length);
    return `${minus}${digits.slice(0, point)}.${digits.slice(point)}`;
  }
  const tail = digits.length > 1 ? `.${digits.slice(1)}` : "";
  const sign = exponent < 0 ? "-" : "+";
  return `${minus}${digits[0]}${tail}e${sign}${String(Math.abs(exponent)).padStart(2, "0")}`;
}
