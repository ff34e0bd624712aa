import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as eeh from '../../src/uapi/eeh.js';
import * as hcall from '../../src/uapi/hcall.js';
import { buid } from '../../src/uapi/ids.js';
import * as rtas from '../../src/uapi/rtas.js';
import * as vfio from '../../src/uapi/vfio.js';

const {
  encodeRtasCall,
  readRtasCall,
  writeRtasCall,
  writeRtasRets,
  rtasLd,
  rtasLdq,
  rtasSt,
  rtasRetsOffset,
  rtasBufferSize,
  RTAS_ARGS_OFFSET,
} = rtas;

describe('RTAS argument buffer (big-endian words, rets at args[nargs])', () => {
  it('a read-slot-reset-state2 call: inputs, then results at args[3]', () => {
    const b = buid(0x800000020000000n);
    const call = {
      token: rtas.RTAS_IBM_READ_SLOT_RESET_STATE2,
      args: [rtas.rtasConfigAddr(1, 0), rtas.buidHi(b), rtas.buidLo(b)],
      nret: 4,
    };
    const buf = encodeRtasCall(call);
    expect(buf.byteLength).toBe(4 * (3 + 3 + 4));
    const bytes = new Uint8Array(buf);
    expect([...bytes.subarray(0, 12)]).toEqual([0, 0, 0x20, 0x22, 0, 0, 0, 3, 0, 0, 0, 4]);
    // config_addr 0x00010000, big-endian
    expect([...bytes.subarray(12, 16)]).toEqual([0, 1, 0, 0]);
    expect(rtasRetsOffset(3)).toBe(24);
    // The handler writes status, state, eeh-supported, unavailable-info.
    writeRtasRets(buf, 0, 3, [
      rtas.RTAS_OUT_SUCCESS,
      rtas.RTAS_EEH_PE_STATE_STOPPED_IO_DMA,
      rtas.RTAS_EEH_SUPPORT,
      rtas.RTAS_EEH_PE_UNAVAIL_INFO,
    ]);
    expect(readRtasCall(buf)).toEqual({
      ok: true,
      value: {
        token: 0x2022,
        nargs: 3,
        nret: 4,
        args: [0x10000, 0x8000000, 0x20000000],
        rets: [0, 2, 1, 1000],
        status: 0,
      },
    });
    // QEMU's accessors: rtas_ld(args, n), rtas_ldq(args, 1) = BUID, rtas_st(rets, n).
    expect(rtasLd(buf, RTAS_ARGS_OFFSET, 0)).toBe(0x10000);
    expect(rtas.buidFromWords(rtasLd(buf, 12, 1), rtasLd(buf, 12, 2))).toBe(b);
    expect(rtasLdq(buf, RTAS_ARGS_OFFSET, 1)).toBe(0x800000020000000n);
    // ... and the same words seen through the fixed rtas_args layout:
    const fixed = rtas.rtas_args.decode(encodeRtasCall(call, rtas.rtas_args.size));
    expect(fixed.ok && fixed.value.args.slice(0, 3)).toEqual(call.args);
  });

  it('signed status codes round-trip through the u32 words', () => {
    const buf = encodeRtasCall({
      token: rtas.RTAS_IBM_SET_SLOT_RESET,
      args: [0, 0, 0, 3],
      nret: 1,
    });
    rtasSt(buf, rtasRetsOffset(4), 0, rtas.RTAS_OUT_PARAM_ERROR);
    const r = readRtasCall(buf);
    expect(r.ok && r.value.status).toBe(-3);
    expect(r.ok && r.value.rets).toEqual([0xfffffffd]);
    rtasSt(buf, rtasRetsOffset(4), 0, rtas.RTAS_OUT_NOT_AUTHORIZED);
    expect(readRtasCall(buf)).toMatchObject({ value: { status: -9002 } });
  });

  it('property: any call round-trips, at any offset', () => {
    const word = fc.integer({ min: 0, max: 0xffff_ffff });
    fc.assert(
      fc.property(
        word,
        fc.array(word, { maxLength: 20 }),
        fc.array(word, { maxLength: 8 }),
        fc.integer({ min: 0, max: 64 }),
        (token, args, rets, at) => {
          const buf = new ArrayBuffer(at + rtasBufferSize(args.length, rets.length));
          writeRtasCall(buf, at, { token, args, nret: rets.length });
          writeRtasRets(buf, at, args.length, rets);
          const r = readRtasCall(new Uint8Array(buf), at);
          expect(r.ok).toBe(true);
          if (r.ok) {
            expect(r.value.args).toEqual(args);
            expect(r.value.rets).toEqual(rets);
            expect(r.value.status).toBe(rets.length ? rets[0]! | 0 : undefined);
          }
        },
      ),
    );
  });

  it('property: reading random bytes never throws; a buffer shorter than its counts is short', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 96 }), fc.integer({ min: -1, max: 100 }), (b, at) => {
        const r = readRtasCall(b, at);
        if (at < 0) expect(r).toMatchObject({ ok: false, error: 'range' });
        else if (!r.ok) {
          expect(r.error).toBe('short');
          if (r.error === 'short') expect(r.have).toBeLessThan(r.need);
        } else {
          expect(rtasBufferSize(r.value.nargs, r.value.nret)).toBeLessThanOrEqual(b.length - at);
        }
      }),
    );
  });

  it('a header claiming more words than the buffer holds is rejected', () => {
    const buf = new ArrayBuffer(12 + 8);
    new DataView(buf).setUint32(4, 16); // nargs 16
    new DataView(buf).setUint32(8, 1);
    expect(readRtasCall(buf)).toEqual({ ok: false, error: 'short', need: 12 + 4 * 17, have: 20 });
    expect(readRtasCall(new ArrayBuffer(8))).toEqual({
      ok: false,
      error: 'short',
      need: 12,
      have: 8,
    });
  });

  it('writeRtasCall rejects what does not fit or is not a word', () => {
    expect(() => writeRtasCall(new ArrayBuffer(16), 0, { token: 1, args: [1], nret: 1 })).toThrow();
    expect(() => encodeRtasCall({ token: 2 ** 32, args: [], nret: 0 })).toThrow(RangeError);
    expect(() => encodeRtasCall({ token: 1, args: [1.5], nret: 0 })).toThrow(RangeError);
    expect(() => writeRtasRets(new ArrayBuffer(16), 0, 1, [0, 0])).toThrow(RangeError);
  });

  it("KVM's view: struct rtas_args is 88 bytes on ppc64 and holds 16 args", () => {
    expect(rtas.RTAS_ARGS_MAX).toBe(16);
    expect(rtas.rtas_args.size).toBe(12 + 4 * 16);
    // 76 bytes of words, padded to 8, then the kernel-only `rets` pointer.
    expect(rtas.RTAS_ARGS_KVM_SIZE).toBe(Math.ceil(rtas.rtas_args.size / 8) * 8 + 8);
  });
});

describe('RTAS constants (QEMU include/hw/ppc/spapr.h, eeh-facts section 2)', () => {
  it('tokens', () => {
    expect(rtas.RTAS_TOKEN_BASE).toBe(0x2000);
    expect(rtas.RTAS_EEH_CALLS.map((c) => [c.name, c.token - rtas.RTAS_TOKEN_BASE])).toEqual([
      ['ibm,set-eeh-option', 0x20],
      ['ibm,get-config-addr-info2', 0x21],
      ['ibm,read-slot-reset-state2', 0x22],
      ['ibm,set-slot-reset', 0x23],
      ['ibm,configure-pe', 0x24],
      ['ibm,slot-error-detail', 0x25],
    ]);
    expect(rtas.RTAS_XICS_CALLS.map((c) => c.token)).toEqual([0x200a, 0x200b, 0x200c, 0x200d]);
    // errinjct (2025 RFC) starts where released QEMU's tokens end.
    expect(rtas.RTAS_IBM_ERRINJCT).toBe(rtas.RTAS_TOKEN_MAX);
    expect(rtas.RTAS_ERRINJCT_CALLS.map((c) => c.token)).toEqual([0x202d, 0x202e, 0x202f]);
  });

  it('tokens are distinct', () => {
    const tokens = Object.entries(rtas)
      .filter(([k, v]) => typeof v === 'number' && /^RTAS_(IBM_|[A-Z_]+$)/.test(k))
      .filter(
        ([k]) => !/^RTAS_(OUT|EEH|GET|PE|SLOT|ERR|EXTENDED|ARGS|TOKEN_BASE|TOKEN_MAX)/.test(k),
      )
      .map(([, v]) => v as number);
    expect(tokens.length).toBeGreaterThanOrEqual(45);
    expect(new Set(tokens).size).toBe(tokens.length);
    expect(tokens.every((t) => t >= 0x2000 && t < 0x2030)).toBe(true);
  });

  it('nargs / nret of each call', () => {
    const counts = Object.fromEntries(
      [...rtas.RTAS_EEH_CALLS, ...rtas.RTAS_ERRINJCT_CALLS, ...rtas.RTAS_XICS_CALLS].map((c) => [
        c.name,
        [c.nargs, c.nret],
      ]),
    );
    expect(counts).toEqual({
      'ibm,set-eeh-option': [[4], [1]],
      'ibm,get-config-addr-info2': [[4], [2]],
      'ibm,read-slot-reset-state2': [[3], [4, 5]],
      'ibm,set-slot-reset': [[4], [1]],
      'ibm,configure-pe': [[3], [1]],
      'ibm,slot-error-detail': [[8], [1]],
      'ibm,errinjct': [[3], [1]],
      'ibm,open-errinjct': [[0], [2]],
      'ibm,close-errinjct': [[1], [1]],
      'ibm,set-xive': [[3], [1]],
      'ibm,get-xive': [[1], [3]],
      'ibm,int-off': [[1], [1]],
      'ibm,int-on': [[1], [1]],
    });
    const rs = rtas.rtasCallByName('ibm,read-slot-reset-state2')!;
    expect(rtas.rtasCountsOk(rs, 3, 5)).toBe(true);
    expect(rtas.rtasCountsOk(rs, 3, 3)).toBe(false);
    expect(rtas.rtasCallByToken(0x2025)?.name).toBe('ibm,slot-error-detail');
    expect(rtas.rtasCallByToken(0x2001)).toBeUndefined();
  });

  it('status codes and extended delay', () => {
    expect([
      rtas.RTAS_OUT_SUCCESS,
      rtas.RTAS_OUT_NO_ERRORS_FOUND,
      rtas.RTAS_OUT_HW_ERROR,
      rtas.RTAS_OUT_BUSY,
      rtas.RTAS_OUT_PARAM_ERROR,
      rtas.RTAS_OUT_NOT_SUPPORTED,
      rtas.RTAS_OUT_NOT_AUTHORIZED,
    ]).toEqual([0, 1, -1, -2, -3, -3, -9002]);
    expect([9900, 9901, 9902, 9903, 9904, 9905].map(rtas.rtasExtendedDelayMs)).toEqual([
      1, 10, 100, 1000, 10000, 100000,
    ]);
    expect(rtas.rtasExtendedDelayMs(9906)).toBeUndefined();
    expect(rtas.rtasExtendedDelayMs(0)).toBeUndefined();
    expect(rtas.rtasExtendedDelayMs(-2)).toBeUndefined();
    expect(rtas.rtasExtendedDelayStatus(0)).toBe(9900);
    expect(rtas.rtasExtendedDelayStatus(1000)).toBe(9903);
    expect(rtas.rtasExtendedDelayStatus(1001)).toBe(9904);
    expect(rtas.rtasExtendedDelayStatus(1e9)).toBe(9905);
    expect(hcall.isLongBusy(9903)).toBe(true);
    expect(hcall.isLongBusy(hcall.H_TOO_HARD)).toBe(false);
  });

  it('options, functions, modes and PE states', () => {
    expect([
      rtas.RTAS_EEH_DISABLE,
      rtas.RTAS_EEH_ENABLE,
      rtas.RTAS_EEH_THAW_IO,
      rtas.RTAS_EEH_THAW_DMA,
    ]).toEqual([0, 1, 2, 3]);
    expect([
      rtas.RTAS_SLOT_RESET_DEACTIVATE,
      rtas.RTAS_SLOT_RESET_HOT,
      rtas.RTAS_SLOT_RESET_FUNDAMENTAL,
    ]).toEqual([0, 1, 3]);
    expect([rtas.RTAS_GET_PE_ADDR, rtas.RTAS_GET_PE_MODE]).toEqual([0, 1]);
    expect([
      rtas.RTAS_PE_MODE_NONE,
      rtas.RTAS_PE_MODE_NOT_SHARED,
      rtas.RTAS_PE_MODE_SHARED,
    ]).toEqual([0, 1, 2]);
    expect([rtas.RTAS_SLOT_TEMP_ERR_LOG, rtas.RTAS_SLOT_PERM_ERR_LOG]).toEqual([1, 2]);
    // The same PE-state numbers in RTAS, VFIO and asm/eeh.h.
    const states = (ns: Record<string, unknown>, prefix: string) =>
      ['NORMAL', 'RESET', 'STOPPED', 'STOPPED_DMA', 'UNAVAIL'].map(
        (s) =>
          ns[
            `${prefix}${s === 'STOPPED' && prefix !== 'VFIO_EEH_PE_STATE_' ? 'STOPPED_IO_DMA' : s}`
          ],
      );
    const want = [0, 1, 2, 4, 5];
    expect(states(rtas, 'RTAS_EEH_PE_STATE_')).toEqual(want);
    expect(states(vfio, 'VFIO_EEH_PE_STATE_')).toEqual(want);
    expect(states(eeh, 'EEH_PE_STATE_')).toEqual(want);
  });

  it('errinjct types: the PCI ones', () => {
    expect(rtas.RTAS_ERR_TYPE_IOA_BUS_ERROR).toBe(0x7);
    expect(rtas.RTAS_ERR_TYPE_IOA_BUS_ERROR_64).toBe(0xf);
    expect(eeh.EEH_ERR_FUNC_MAX).toBe(19);
  });

  it('config addresses and BUIDs', () => {
    expect(rtas.rtasConfigAddr(0x12, 0x08, 0x10)).toBe(0x120810);
    expect(rtas.configAddrBus(0x120810)).toBe(0x12);
    expect(rtas.configAddrDevfn(0x120810)).toBe(0x08);
    expect(() => rtas.rtasConfigAddr(256, 0)).toThrow(RangeError);
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (n) => {
        const b = buid(n);
        expect(rtas.buidFromWords(rtas.buidHi(b), rtas.buidLo(b))).toBe(b);
      }),
    );
  });

  it('H_RTAS', () => {
    expect(hcall.H_RTAS).toBe(0xf000);
    expect(hcall.KVMPPC_H_RTAS).toBe(hcall.H_RTAS);
    expect([hcall.H_SUCCESS, hcall.H_FUNCTION, hcall.H_PARAMETER]).toEqual([0, -2, -4]);
  });
});
