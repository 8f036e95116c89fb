import { describe, expect, it } from "vitest";
import { bytesOf, codesOf, decodeCodes, decodeValue, formatCode, HUGE_POS, TINY_POS, valueTable } from "../../js/wire/decode";

// Encode like attn_widget/wire/dec3.py, for building test inputs (the real encoder is Python's).
function code(mantissa: number, exponent: number, negative = false): number {
  return 1 + 2 * ((exponent + 32) * 900 + (mantissa - 100)) + (negative ? 1 : 0);
}

// Python's format(v, ".3g"), written independently of formatCode from toPrecision.
function pythonG3(v: number): string {
  if (v === 0) return "0";
  const exponent = Math.floor(Math.log10(Math.abs(Number(v.toPrecision(3)))));
  if (exponent < -4 || exponent >= 3) {
    const [m, e] = v.toExponential(2).split("e");
    const mant = m.includes(".") ? m.replace(/0+$/, "").replace(/\.$/, "") : m;
    const n = Number(e);
    return `${mant}e${n < 0 ? "-" : "+"}${String(Math.abs(n)).padStart(2, "0")}`;
  }
  const fixed = v.toFixed(Math.max(0, 2 - exponent));
  return fixed.includes(".") ? fixed.replace(/0+$/, "").replace(/\.$/, "") : fixed;
}

describe("dec3 decoding", () => {
  it("formats like Python's .3g for every mantissa at every exponent", () => {
    for (let e = -32; e <= 3; e++) {
      for (let m = 100; m <= 999; m += 7) {
        for (const neg of [false, true]) {
          const c = code(m, e, neg);
          expect(formatCode(c)).toBe(pythonG3(decodeValue(c)));
        }
      }
    }
  });

  it("gives known texts for known codes", () => {
    expect(formatCode(0)).toBe("0");
    expect(formatCode(code(938, -1))).toBe("0.938");
    expect(formatCode(code(100, -5))).toBe("1e-05");
    expect(formatCode(code(120, -5))).toBe("1.2e-05");
    expect(formatCode(code(123, 2))).toBe("123");
    expect(formatCode(code(123, 3))).toBe("1.23e+03");
    expect(formatCode(code(500, -1, true))).toBe("-0.5");
    expect(formatCode(code(174, -1))).toBe("0.174");
    expect(formatCode(TINY_POS)).toBe("<1e-32");
    expect(formatCode(HUGE_POS)).toBe(">=1e+04");
  });

  it("decodes values exactly at three digits", () => {
    expect(decodeValue(code(174, -1))).toBeCloseTo(0.174, 12);
    expect(decodeValue(code(100, 0))).toBe(1);
    expect(decodeValue(HUGE_POS)).toBe(Infinity);
    const table = decodeCodes(new Uint16Array([0, code(250, -1), code(999, 3)]));
    expect(Array.from(table)).toEqual([0, Math.fround(0.25), 9990]);
  });

  it("has a lookup table that agrees with decoding each code", () => {
    const table = valueTable();
    for (let c = 0; c < 65536; c++) {
      if (table[c] !== Math.fround(decodeValue(c))) throw new Error(`code ${c}: ${table[c]} != ${decodeValue(c)}`);
    }
  });

  it("honours a DataView's byteOffset and length", () => {
    const buf = new ArrayBuffer(16);
    const all = new Uint16Array(buf);
    all.set([111, 222, 333, 444, 555, 666, 777, 888]);
    const view = new DataView(buf, 4, 6); // codes 333, 444, 555
    expect(Array.from(codesOf(view))).toEqual([333, 444, 555]);
    expect(codesOf(view).buffer).toBe(buf); // aligned: no copy
  });

  it("copies when the view starts at an odd offset", () => {
    const buf = new ArrayBuffer(9);
    const bytes = new Uint8Array(buf);
    bytes.set([0xff, 0x34, 0x12, 0x78, 0x56], 0);
    const codes = codesOf(new DataView(buf, 1, 4));
    expect(Array.from(codes)).toEqual([0x1234, 0x5678]);
  });

  it("treats a missing buffer as empty and refuses odd lengths", () => {
    expect(codesOf(null).length).toBe(0);
    expect(bytesOf(undefined).length).toBe(0);
    expect(() => codesOf(new Uint8Array(3))).toThrow(/even byte length/);
  });
});
