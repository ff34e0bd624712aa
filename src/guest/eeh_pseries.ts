/**
 * The pseries EEH platform: struct eeh_ops over RTAS, as a Linux guest runs
 * it (cf. arch/powerpc/platforms/pseries/eeh_pseries.c, and
 * arch/powerpc/kernel/rtas_pci.c for the config accessors).
 *
 * Every PE is named to firmware by (PE config address, BUID hi, BUID lo);
 * the PE config address comes from ibm,get-config-addr-info2 at probe time.
 * The generic EEH core (src/kernel) drives these ops exactly as it drives
 * powernv on the host.
 */

import type { EehCore } from '../kernel/eeh.js';
import {
  EEH_DEV_BRIDGE,
  EEH_OPT_DISABLE,
  EEH_OPT_ENABLE,
  EEH_OPT_FREEZE_PE,
  EEH_OPT_THAW_DMA,
  EEH_OPT_THAW_MMIO,
  EEH_PE_CFG_BLOCKED,
  EEH_RESET_FUNDAMENTAL,
  EEH_RESET_HOT,
  EEH_STATE_DMA_ACTIVE,
  EEH_STATE_MMIO_ACTIVE,
  EEH_STATE_MMIO_ENABLED,
  EEH_STATE_NOT_SUPPORT,
  EEH_STATE_RESET_ACTIVE,
  EEH_STATE_UNAVAILABLE,
} from '../kernel/eeh_consts.js';
import type { EehDev, EehPe } from '../kernel/eeh_dev.js';
import type { EehGetState, EehOps } from '../kernel/eeh_ops.js';
import { sleep, type Task } from '../sim/scheduler.js';
import type { Sim } from '../sim/sim.js';
import {
  EEH_ERR_FUNC_LD_MEM_ADDR,
  EEH_ERR_FUNC_LD_MEM_DATA,
  EEH_ERR_FUNC_ST_MEM_ADDR,
  EEH_ERR_FUNC_ST_MEM_DATA,
  EEH_ERR_TYPE_32,
  EEH_ERR_TYPE_64,
} from '../uapi/eeh.js';
import { EINVAL, EIO, ENOENT, ENXIO, ERANGE } from '../uapi/errno.js';
import { type Bdf, type Buid, bdfBus, formatBdf, type Gpa } from '../uapi/ids.js';
import {
  PCI_CAP_ID_EXP,
  PCI_CAP_LIST_ID,
  PCI_CAP_LIST_NEXT,
  PCI_CAPABILITY_LIST,
  PCI_COMMAND,
  PCI_COMMAND_MEMORY,
  PCI_EXT_CAP_ID,
  PCI_EXT_CAP_ID_ERR,
  PCI_EXT_CAP_NEXT,
  PCI_STATUS,
  PCI_STATUS_CAP_LIST,
  PCI_VENDOR_ID,
} from '../uapi/pci_regs.js';
import {
  buidHi,
  buidLo,
  RTAS_ERR_TYPE_IOA_BUS_ERROR,
  RTAS_ERR_TYPE_IOA_BUS_ERROR_64,
  RTAS_EXTENDED_DELAY_MAX,
  RTAS_EXTENDED_DELAY_MIN,
  RTAS_GET_PE_ADDR,
  RTAS_GET_PE_MODE,
  RTAS_OUT_FUNDAMENTAL_RESET_UNSUPPORTED,
  RTAS_OUT_PARAM_ERROR,
} from '../uapi/rtas.js';
import {
  type GuestRtas,
  RTAS_ERROR_LOG_MAX,
  RTAS_UNKNOWN_SERVICE,
  rtasBusyDelay,
  rtasBusyDelayTime,
} from './rtas.js';

/** include/linux/pci.h PCIBIOS_* return codes of the config accessors. */
export const PCIBIOS_SUCCESSFUL = 0x00;
export const PCIBIOS_DEVICE_NOT_FOUND = 0x86;
export const PCIBIOS_BAD_REGISTER_NUMBER = 0x87;
export const PCIBIOS_SET_FAILED = 0x88;

/** arch/powerpc/kernel/eeh.c: size of pci_regs_buf, the driver log. */
export const EEH_PCI_REGS_LOG_LEN = 8192;
/** Size of the ibm,errinjct work buffer (PAPR: 1 KiB). */
export const RTAS_ERRINJCT_BUF_SIZE = 1024;
/** configure-pe retry budget, ms (pseries_eeh_phb_configure_bridge). */
export const CONFIGURE_PE_MAX_WAIT_MS = 200;

/** RTAS service names used by the pseries EEH platform and the PCI accessors. */
export const RTAS_FN = {
  setEehOption: 'ibm,set-eeh-option',
  setSlotReset: 'ibm,set-slot-reset',
  readSlotResetState2: 'ibm,read-slot-reset-state2',
  readSlotResetState: 'ibm,read-slot-reset-state',
  slotErrorDetail: 'ibm,slot-error-detail',
  getConfigAddrInfo2: 'ibm,get-config-addr-info2',
  getConfigAddrInfo: 'ibm,get-config-addr-info',
  configurePe: 'ibm,configure-pe',
  configureBridge: 'ibm,configure-bridge',
  readPciConfig: 'ibm,read-pci-config',
  writePciConfig: 'ibm,write-pci-config',
  errinjct: 'ibm,errinjct',
  openErrinjct: 'ibm,open-errinjct',
  closeErrinjct: 'ibm,close-errinjct',
} as const;

/** rtas_config_addr(): the PAPR config address of a register (extended registers in bits 28..31). */
export function rtasConfigAddress(bus: number, devfn: number, where: number): number {
  return (
    (((where & 0xf00) << 20) | ((bus & 0xff) << 16) | ((devfn & 0xff) << 8) | (where & 0xff)) >>> 0
  );
}

/** Where a device sits, as the guest's pci_dn knows it. */
export interface PseriesDevLocation {
  readonly phb: number;
  readonly bdf: Bdf;
}

/** What probing found about a device (edev->pcie_cap / aer_cap). */
interface DevCaps {
  pcieCap: number;
  aerCap: number;
}

export type PseriesInit = { readonly ok: true } | { readonly ok: false; readonly missing: string };

export interface PseriesStats {
  /** ibm,slot-error-detail calls that returned a log (status 0). */
  logsFetched: number;
  /** configure-pe calls that asked to be retried (990x). */
  configureRetries: number;
  /** set-slot-reset fundamental refused with -8 and retried as hot. */
  fundamentalFallbacks: number;
}

/**
 * How the platform names a PE in its calls (default: the virtual PHB's
 * BUID and the PE address from ibm,get-config-addr-info2). A design that
 * tells the guest another identity gives the state query's words here.
 */
export interface PseriesAddressing {
  /** The three address words of ibm,read-slot-reset-state2 for `pe`, or undefined for the default. */
  stateQueryWords?(ops: PseriesEehOps, pe: EehPe): [number, number, number] | undefined;
}

/**
 * EXPERIMENTAL (design b): state queries name the host PE the VMM put in
 * the device tree ("ibm,host-eeh-pe" of the PE's first function, see
 * src/uapi/device_tree.ts); every other call keeps the virtual address.
 * A PE without the property (the PHB PE) keeps the default words.
 */
export const HOST_PE_STATE_QUERY: PseriesAddressing = Object.freeze({
  stateQueryWords(ops: PseriesEehOps, pe: EehPe): [number, number, number] | undefined {
    const edev = pe.edevs[0];
    const node = ops.rtas.platform
      .deviceTree()
      .phbs.find((p) => p.index === pe.phb)
      ?.devices.find((d) => d.bdf === edev?.bdf);
    const id = node?.hostEehPe;
    return id ? [id.peAddr, buidHi(id.buid), buidLo(id.buid)] : undefined;
  },
});

const ALL_ONES = 0xffff_ffff;
const allOnes = (size: 1 | 2 | 4): number => (size === 4 ? ALL_ONES : size === 2 ? 0xffff : 0xff);

export class PseriesEehOps implements EehOps {
  readonly name = 'pseries' as const;
  readonly probeModeDev = false;
  readonly stats: PseriesStats = { logsFetched: 0, configureRetries: 0, fundamentalFallbacks: 0 };
  private tokCache: Record<keyof typeof RTAS_FN, number> | undefined;
  private initResult: PseriesInit | undefined;
  private readonly caps = new WeakMap<EehDev, DevCaps>();
  private core: EehCore | undefined;
  /** slot_errbuf and pci_regs_buf, in guest RAM (allocated at first use). */
  private errBuf: Gpa | undefined;
  private drvLogBuf: Gpa | undefined;
  private errinjctBuf: Gpa | undefined;

  /** Touches nothing yet: the tokens are looked up by eeh_pseries_init() at boot. */
  constructor(
    readonly sim: Sim,
    readonly rtas: GuestRtas,
    /** BUID of each PHB (pci domain) of the guest. */
    readonly buids: ReadonlyMap<number, Buid>,
    /** The design's addressing hook (default: QEMU's virtual addresses). */
    readonly addressing: PseriesAddressing = {},
  ) {}

  /** The RTAS tokens of eeh_pseries_init() (looked up once). */
  private get tok(): Record<keyof typeof RTAS_FN, number> {
    if (!this.tokCache) {
      const t = Object.fromEntries(
        Object.entries(RTAS_FN).map(([k, name]) => [k, this.rtas.token(name)]),
      ) as Record<keyof typeof RTAS_FN, number>;
      // ibm,configure-pe and ibm,configure-bridge have the same semantics.
      if (t.configurePe === RTAS_UNKNOWN_SERVICE) t.configurePe = t.configureBridge;
      this.tokCache = t;
    }
    return this.tokCache;
  }

  /** eeh_pseries_init(): whether the firmware provides every service EEH needs. */
  get init(): PseriesInit {
    this.initResult ??= this.checkTokens();
    return this.initResult;
  }

  /** The sanity check of eeh_pseries_init(): EEH is off unless all these exist. */
  private checkTokens(): PseriesInit {
    const t = this.tok;
    const U = RTAS_UNKNOWN_SERVICE;
    if (t.setEehOption === U) return { ok: false, missing: RTAS_FN.setEehOption };
    if (t.setSlotReset === U) return { ok: false, missing: RTAS_FN.setSlotReset };
    if (t.readSlotResetState2 === U && t.readSlotResetState === U) {
      return { ok: false, missing: RTAS_FN.readSlotResetState2 };
    }
    if (t.slotErrorDetail === U) return { ok: false, missing: RTAS_FN.slotErrorDetail };
    if (t.configurePe === U) return { ok: false, missing: RTAS_FN.configurePe };
    return { ok: true };
  }

  /** The generic core, needed by get_log (eeh_slot_error_detail's preparation). */
  attachCore(core: EehCore): void {
    this.core = core;
  }

  private buid(phb: number): Buid {
    const b = this.buids.get(phb);
    if (b === undefined) throw new Error(`pseries: no BUID for PHB ${phb}`);
    return b;
  }

  private peWords(pe: EehPe): [number, number, number] {
    const b = this.buid(pe.phb);
    return [pe.addr, buidHi(b), buidLo(b)];
  }

  private locOf(edev: EehDev): PseriesDevLocation {
    const phb = edev.pdev?.domain;
    if (phb === undefined) throw new Error(`pseries: ${edev.name} has no pci_dev`);
    return { phb, bdf: edev.bdf };
  }

  // ---- config space over RTAS (rtas_pci.c) -------------------------------

  /**
   * rtas_read_raw_config(): ibm,read-pci-config. Returns the RTAS status
   * and the value (all 1s when the call failed).
   */
  *rawReadConfig(
    loc: PseriesDevLocation,
    where: number,
    size: 1 | 2 | 4,
  ): Task<{ status: number; value: number }> {
    const b = this.buid(loc.phb);
    const addr = rtasConfigAddress(bdfBus(loc.bdf), loc.bdf & 0xff, where);
    const r = yield* this.rtas.call(this.tok.readPciConfig, 2, [addr, buidHi(b), buidLo(b), size]);
    // rtas_call() leaves `returnval` at -1 when the service is unknown.
    const raw = r.status === -1 && r.outputs.length === 0 ? ALL_ONES : (r.outputs[0] ?? ALL_ONES);
    // MODEL: the PCI core turns a failed read into all 1s (PCI_SET_ERROR_RESPONSE).
    const value = r.status === 0 ? raw & allOnes(size) : allOnes(size);
    return { status: r.status, value: value >>> 0 };
  }

  /** rtas_write_raw_config(): ibm,write-pci-config; the RTAS status. */
  *rawWriteConfig(
    loc: PseriesDevLocation,
    where: number,
    size: 1 | 2 | 4,
    value: number,
  ): Task<number> {
    const b = this.buid(loc.phb);
    const addr = rtasConfigAddress(bdfBus(loc.bdf), loc.bdf & 0xff, where);
    const r = yield* this.rtas.call(this.tok.writePciConfig, 1, [
      addr,
      buidHi(b),
      buidLo(b),
      size,
      value >>> 0,
    ]);
    return r.status;
  }

  /**
   * rtas_pci_dn_read_config(): refused (all 1s) while the device's PE has
   * config blocked; otherwise the raw read. Returns [PCIBIOS code, value].
   */
  *dnReadConfig(edev: EehDev, where: number, size: 1 | 2 | 4): Task<[number, number]> {
    // MODEL: config_access_valid() allows extended config space, as QEMU
    // advertises it for PCIe devices (ibm,pci-config-space-type = 1).
    if (where < 0 || where + size > 4096) return [PCIBIOS_BAD_REGISTER_NUMBER, allOnes(size)];
    if (edev.pe && edev.pe.state & EEH_PE_CFG_BLOCKED) return [PCIBIOS_SET_FAILED, allOnes(size)];
    const r = yield* this.rawReadConfig(this.locOf(edev), where, size);
    return [r.status ? PCIBIOS_DEVICE_NOT_FOUND : PCIBIOS_SUCCESSFUL, r.value];
  }

  /** rtas_pci_dn_write_config(): a PCIBIOS code. */
  *dnWriteConfig(edev: EehDev, where: number, size: 1 | 2 | 4, value: number): Task<number> {
    if (where < 0 || where + size > 4096) return PCIBIOS_BAD_REGISTER_NUMBER;
    if (edev.pe && edev.pe.state & EEH_PE_CFG_BLOCKED) return PCIBIOS_SET_FAILED;
    const st = yield* this.rawWriteConfig(this.locOf(edev), where, size, value);
    return st ? PCIBIOS_DEVICE_NOT_FOUND : PCIBIOS_SUCCESSFUL;
  }

  /** pseries_eeh_read_config() */
  *readConfig(edev: EehDev, where: number, size: 1 | 2 | 4): Task<number> {
    return (yield* this.dnReadConfig(edev, where, size))[1];
  }

  /** pseries_eeh_write_config() */
  *writeConfig(edev: EehDev, where: number, size: 1 | 2 | 4, value: number): Task<number> {
    return yield* this.dnWriteConfig(edev, where, size, value);
  }

  // ---- probing (pseries_eeh_init_edev) -----------------------------------

  /** pseries_eeh_find_cap(): walks the capability list over RTAS. */
  private *findCap(edev: EehDev, cap: number): Task<number> {
    const status = (yield* this.readConfig(edev, PCI_STATUS, 2)) & 0xffff;
    if (status === 0xffff || !(status & PCI_STATUS_CAP_LIST)) return 0;
    let pos = PCI_CAPABILITY_LIST;
    for (let cnt = 48; cnt > 0; cnt--) {
      pos = (yield* this.readConfig(edev, pos, 1)) & 0xff;
      if (pos < 0x40) break;
      pos &= ~3;
      const id = (yield* this.readConfig(edev, pos + PCI_CAP_LIST_ID, 1)) & 0xff;
      if (id === 0xff) break;
      if (id === cap) return pos;
      pos += PCI_CAP_LIST_NEXT;
    }
    return 0;
  }

  /** pseries_eeh_find_ecap(): walks the extended capability list (PCIe only). */
  private *findEcap(edev: EehDev, pcieCap: number, cap: number): Task<number> {
    if (!pcieCap) return 0;
    let pos = 256;
    let [rc, header] = yield* this.dnReadConfig(edev, pos, 4);
    if (rc !== PCIBIOS_SUCCESSFUL || !header) return 0;
    for (let ttl = (4096 - 256) / 8; ttl > 0; ttl--) {
      if (PCI_EXT_CAP_ID(header) === cap && pos) return pos;
      pos = PCI_EXT_CAP_NEXT(header);
      if (pos < 256) break;
      [rc, header] = yield* this.dnReadConfig(edev, pos, 4);
      if (rc !== PCIBIOS_SUCCESSFUL) break;
    }
    return 0;
  }

  /**
   * pseries_eeh_get_pe_config_addr(): function 1 asks whether the device is
   * part of a PE (mode 0: no), function 0 gives the PE config address.
   * Returns the address or -ENOENT / -ENXIO.
   */
  *getPeConfigAddr(phb: number, bdf: Bdf): Task<number> {
    const b = this.buid(phb);
    const cfg = rtasConfigAddress(bdfBus(bdf), bdf & 0xff, 0);
    const words = [cfg, buidHi(b), buidLo(b)];
    if (this.tok.getConfigAddrInfo2 !== RTAS_UNKNOWN_SERVICE) {
      const mode = yield* this.rtas.call(this.tok.getConfigAddrInfo2, 2, [
        ...words,
        RTAS_GET_PE_MODE,
      ]);
      if (mode.status || mode.outputs[0] === 0) return -ENOENT;
      const addr = yield* this.rtas.call(this.tok.getConfigAddrInfo2, 2, [
        ...words,
        RTAS_GET_PE_ADDR,
      ]);
      if (addr.status) return -ENXIO;
      return (addr.outputs[0] ?? 0) | 0;
    }
    if (this.tok.getConfigAddrInfo !== RTAS_UNKNOWN_SERVICE) {
      const addr = yield* this.rtas.call(this.tok.getConfigAddrInfo, 2, [...words, 0]);
      if (addr.status) return -ENXIO;
      return (addr.outputs[0] ?? 0) | 0;
    }
    return -ENOENT;
  }

  /**
   * pseries_eeh_init_edev() up to the PE insertion: finds the capabilities,
   * the PE config address, and enables EEH on that PE. Returns the PE
   * config address (>= 0) or a negative error (EEH unsupported on the device).
   */
  *initEdev(edev: EehDev): Task<number> {
    const pcieCap = yield* this.findCap(edev, PCI_CAP_ID_EXP);
    const aerCap = yield* this.findEcap(edev, pcieCap, PCI_EXT_CAP_ID_ERR);
    this.caps.set(edev, { pcieCap, aerCap });
    // MODEL: the guest device tree gives no class code; every device is an
    // endpoint (edev->mode stays without EEH_DEV_BRIDGE).
    edev.mode &= ~EEH_DEV_BRIDGE;
    const { phb } = this.locOf(edev);
    const addr = yield* this.getPeConfigAddr(phb, edev.bdf);
    if (addr < 0) return addr;
    const rc = yield* this.setOptionAt(phb, addr, EEH_OPT_ENABLE);
    if (rc) return rc < 0 ? rc : -rc;
    return addr;
  }

  // ---- eeh_ops ------------------------------------------------------------

  private *setOptionAt(phb: number, addr: number, option: number): Task<number> {
    const b = this.buid(phb);
    const r = yield* this.rtas.call(this.tok.setEehOption, 1, [addr, buidHi(b), buidLo(b), option]);
    return r.status;
  }

  /** pseries_eeh_set_option(): freezing a PE is not supported by PAPR (returns 0). */
  *setOption(pe: EehPe, option: number): Task<number> {
    switch (option) {
      case EEH_OPT_DISABLE:
      case EEH_OPT_ENABLE:
      case EEH_OPT_THAW_MMIO:
      case EEH_OPT_THAW_DMA:
        break;
      case EEH_OPT_FREEZE_PE:
        return 0;
      default:
        return -EINVAL;
    }
    return yield* this.setOptionAt(pe.phb, pe.addr, option);
  }

  /**
   * pseries_eeh_get_state(): RTAS state 0/1/2/4/5 to EEH_STATE_* bits.
   * Unlike powernv, a normal PE reads MMIO_ACTIVE|DMA_ACTIVE only (no
   * *_ENABLED bits), and a DMA-stopped PE reads MMIO_ENABLED only.
   */
  *getState(pe: EehPe): Task<EehGetState> {
    const words = this.addressing.stateQueryWords?.(this, pe) ?? this.peWords(pe);
    let status: number;
    let outs: readonly number[];
    if (this.tok.readSlotResetState2 !== RTAS_UNKNOWN_SERVICE) {
      const r = yield* this.rtas.call(this.tok.readSlotResetState2, 4, words);
      status = r.status;
      outs = r.outputs;
    } else if (this.tok.readSlotResetState !== RTAS_UNKNOWN_SERVICE) {
      const r = yield* this.rtas.call(this.tok.readSlotResetState, 3, words);
      status = r.status;
      // Fake PE unavailable info.
      outs = [r.outputs[0] ?? 0, r.outputs[1] ?? 0, 0];
    } else {
      return { state: EEH_STATE_NOT_SUPPORT, delayMs: 0 };
    }
    if (status) return { state: status, delayMs: 0 };
    if (!outs[1]) return { state: EEH_STATE_NOT_SUPPORT, delayMs: 0 };
    switch (outs[0]) {
      case 0:
        return { state: EEH_STATE_MMIO_ACTIVE | EEH_STATE_DMA_ACTIVE, delayMs: 0 };
      case 1:
        return {
          state: EEH_STATE_RESET_ACTIVE | EEH_STATE_MMIO_ACTIVE | EEH_STATE_DMA_ACTIVE,
          delayMs: 0,
        };
      case 2:
        return { state: 0, delayMs: 0 };
      case 4:
        return { state: EEH_STATE_MMIO_ENABLED, delayMs: 0 };
      case 5: {
        const delay = outs[2] ?? 0;
        if (delay) return { state: EEH_STATE_UNAVAILABLE, delayMs: delay };
        return { state: EEH_STATE_NOT_SUPPORT, delayMs: 0 };
      }
      default:
        return { state: EEH_STATE_NOT_SUPPORT, delayMs: 0 };
    }
  }

  /**
   * pseries_eeh_phb_reset(): set-slot-reset; a fundamental reset refused
   * with -8 is retried as a hot reset; then the hold (assert) or settle
   * (deassert) sleep from the cost table.
   */
  *reset(pe: EehPe, option: number): Task<number> {
    const words = this.peWords(pe);
    let r = yield* this.rtas.call(this.tok.setSlotReset, 1, [...words, option]);
    if (option === EEH_RESET_FUNDAMENTAL && r.status === RTAS_OUT_FUNDAMENTAL_RESET_UNSUPPORTED) {
      this.stats.fundamentalFallbacks++;
      option = EEH_RESET_HOT;
      r = yield* this.rtas.call(this.tok.setSlotReset, 1, [...words, option]);
    }
    if (option === EEH_RESET_FUNDAMENTAL || option === EEH_RESET_HOT) {
      yield* sleep(this.sim.costs.ns('pe_reset_hold'));
    } else {
      // EEH_RESET_DEACTIVATE
      yield* sleep(this.sim.costs.ns('pe_reset_settle'));
    }
    return r.status;
  }

  /**
   * pseries_eeh_phb_configure_bridge(): ibm,configure-pe, retried on
   * extended-delay statuses (capped at 100 ms each) for at most 200 ms.
   * 0, -EINVAL (parameter error) or -EIO.
   */
  *configureBridge(pe: EehPe): Task<number> {
    const words = this.peWords(pe);
    let maxWait = CONFIGURE_PE_MAX_WAIT_MS;
    let ret = 0;
    while (maxWait > 0) {
      ret = (yield* this.rtas.call(this.tok.configurePe, 1, words)).status;
      if (!ret) return 0;
      if (ret < 0) break;
      // A delay above 100 ms is cut down to 100 ms "in case firmware made a mistake".
      if (ret > RTAS_EXTENDED_DELAY_MIN + 2 && ret <= RTAS_EXTENDED_DELAY_MAX) {
        ret = RTAS_EXTENDED_DELAY_MIN + 2;
      }
      maxWait -= rtasBusyDelayTime(ret);
      if (maxWait < 0) break;
      this.stats.configureRetries++;
      yield* rtasBusyDelay(ret);
    }
    return ret === RTAS_OUT_PARAM_ERROR ? -EINVAL : -EIO;
  }

  /**
   * eeh_slot_error_detail() + pseries_eeh_get_log(). pseries sets
   * EEH_ENABLE_IO_FOR_LOG, so before fetching the log Linux thaws MMIO,
   * reconfigures the bridges, restores the BARs and dumps each device's
   * config registers into the driver log; then ibm,slot-error-detail.
   *
   * MODEL: upstream does the preparation in the generic eeh_slot_error_detail()
   * (arch/powerpc/kernel/eeh.c) under that flag; the shared core here calls
   * get_log directly, so the only platform with the flag does it itself.
   */
  *getLog(pe: EehPe, severity: number): Task<void> {
    let loglen = 0;
    if (!pe.isPhb && this.core) {
      yield* this.core.pciEnable(pe, EEH_OPT_THAW_MMIO);
      yield* this.configureBridge(pe);
      if (!(pe.state & EEH_PE_CFG_BLOCKED)) {
        yield* this.core.restoreBars(pe);
        let text = '';
        for (const edev of pe.devices()) text += yield* this.dumpDevLog(edev);
        const bytes = new TextEncoder().encode(text).subarray(0, EEH_PCI_REGS_LOG_LEN);
        this.rtas.platform.ram.write(this.logBuffers()[1], bytes);
        loglen = bytes.length;
      }
    }
    // MODEL: the log is not memset first; RTAS overwrites what it returns.
    const [errBuf, drvLogBuf] = this.logBuffers();
    const r = yield* this.rtas.call(this.tok.slotErrorDetail, 1, [
      ...this.peWords(pe),
      drvLogBuf,
      loglen,
      errBuf,
      RTAS_ERROR_LOG_MAX,
      severity,
    ]);
    if (r.status === 0) this.stats.logsFetched++;
  }

  /** slot_errbuf and pci_regs_buf: [RTAS error log, driver log]. */
  private logBuffers(): [Gpa, Gpa] {
    // MODEL: eeh_error_buf_size comes from the "rtas-error-log-max" property
    // (QEMU: 2048); the guest device tree model has no such property.
    this.errBuf ??= this.rtas.platform.ram.alloc(RTAS_ERROR_LOG_MAX, 8);
    this.drvLogBuf ??= this.rtas.platform.ram.alloc(EEH_PCI_REGS_LOG_LEN, 8);
    return [this.errBuf, this.drvLogBuf];
  }

  /**
   * eeh_dump_dev_log(): the registers Linux prints for a device of a failed
   * PE (ids, command/status, PCIe capability, AER).
   * MODEL: bridge and PCI-X registers are skipped (no such devices here);
   * the text follows Linux's format loosely.
   */
  private *dumpDevLog(edev: EehDev): Task<string> {
    const hex = (v: number) => (v >>> 0).toString(16);
    let s = `${edev.pdev?.domain ?? 0}:${formatBdf(edev.bdf)}\n`;
    s += `dev/vend:${hex(yield* this.readConfig(edev, PCI_VENDOR_ID, 4)).padStart(8, '0')}\n`;
    s += `cmd/stat:${hex(yield* this.readConfig(edev, PCI_COMMAND, 4))}\n`;
    const caps = this.caps.get(edev);
    if (caps?.pcieCap) {
      s += 'pci-e cap10:\n';
      for (let i = 0; i <= 8; i++) {
        s += `${hex(4 * i).padStart(2, '0')}:${hex(yield* this.readConfig(edev, caps.pcieCap + 4 * i, 4))}\n`;
      }
    }
    if (caps?.aerCap) {
      s += 'pci-e AER:\n';
      for (let i = 0; i <= 13; i++) {
        s += `${hex(4 * i).padStart(2, '0')}:${hex(yield* this.readConfig(edev, caps.aerCap + 4 * i, 4))}\n`;
      }
    }
    return s;
  }

  /**
   * pseries_eeh_err_inject(). With the ibm,errinjct services (2025 RFC)
   * the request goes to firmware as an IOA bus error: open a session,
   * fill the work buffer (layout of powerpc-utils' errinjct ioa_bus_error.c),
   * inject, close. Without them, upstream's fallback: only MMIO load/store
   * functions, each done by eeh_pe_inject_mmio_error() on every device of
   * the PE (memory decoding off, one load from the first memory BAR, back on).
   */
  *errInject(pe: EehPe, type: number, func: number, addr: bigint, mask: bigint): Task<number> {
    if (type !== EEH_ERR_TYPE_32 && type !== EEH_ERR_TYPE_64) return -EINVAL;
    if (this.tok.errinjct !== RTAS_UNKNOWN_SERVICE) {
      return yield* this.rtasErrinjct(pe, type, func, addr, mask);
    }
    switch (func) {
      case EEH_ERR_FUNC_LD_MEM_ADDR:
      case EEH_ERR_FUNC_LD_MEM_DATA:
      case EEH_ERR_FUNC_ST_MEM_ADDR:
      case EEH_ERR_FUNC_ST_MEM_DATA:
        for (const edev of pe.edevs) yield* this.breakDevice(edev);
        return 0;
      default:
        return -ERANGE;
    }
  }

  private *rtasErrinjct(
    pe: EehPe,
    type: number,
    func: number,
    addr: bigint,
    mask: bigint,
  ): Task<number> {
    this.errinjctBuf ??= this.rtas.platform.ram.alloc(RTAS_ERRINJCT_BUF_SIZE, 8);
    // ibm,open-errinjct: rets[0] is the session token, rets[1] the status.
    const open = yield* this.rtas.call(this.tok.openErrinjct, 2, []);
    const session = open.status >>> 0;
    if ((open.outputs[0] ?? -1) !== 0) return -EIO;
    const [peAddr, hi, lo] = this.peWords(pe);
    const words =
      type === EEH_ERR_TYPE_64
        ? [
            Number(addr >> 32n),
            Number(addr & 0xffff_ffffn),
            Number(mask >> 32n),
            Number(mask & 0xffff_ffffn),
            peAddr,
            hi,
            lo,
            func,
          ]
        : [Number(addr & 0xffff_ffffn), Number(mask & 0xffff_ffffn), peAddr, hi, lo, func];
    const buf = new Uint8Array(RTAS_ERRINJCT_BUF_SIZE);
    const dv = new DataView(buf.buffer);
    words.forEach((w, i) => {
      dv.setUint32(4 * i, w >>> 0);
    });
    this.rtas.platform.ram.write(this.errinjctBuf, buf);
    const errType =
      type === EEH_ERR_TYPE_64 ? RTAS_ERR_TYPE_IOA_BUS_ERROR_64 : RTAS_ERR_TYPE_IOA_BUS_ERROR;
    const inj = yield* this.rtas.call(this.tok.errinjct, 1, [errType, session, this.errinjctBuf]);
    yield* this.rtas.call(this.tok.closeErrinjct, 1, [session]);
    return inj.status ? -EIO : 0;
  }

  /** eeh_break_device(): provoke an MMIO error on the first memory BAR of a device. */
  private *breakDevice(edev: EehDev): Task<number> {
    const pdev = edev.pdev;
    const bar = pdev?.resources.find((r) => r.size > 0 && r.start !== 0);
    const core = this.core;
    if (!pdev || !bar || !core) return -ENXIO;
    const old = (yield* this.readConfig(edev, PCI_COMMAND, 2)) & 0xffff;
    yield* this.writeConfig(edev, PCI_COMMAND, 2, old & ~PCI_COMMAND_MEMORY);
    // in_8(): a raw load, no EEH check ("the HW will asynchronously freeze a PE").
    yield* core.pci.mmio.read(bar.start, 1);
    yield* this.writeConfig(edev, PCI_COMMAND, 2, old);
    return 0;
  }
}
