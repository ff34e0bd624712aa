/**
 * A fake eeh_ops platform for unit tests of the generic EEH core: PE freeze
 * state kept in a map, every call counted. (The real platforms are tested in
 * test/host and test/guest against the layers below them.)
 */
import { EehCore } from '../../src/kernel/eeh.js';
import {
  EEH_OPT_FREEZE_PE,
  EEH_OPT_THAW_DMA,
  EEH_OPT_THAW_MMIO,
  EEH_PE_BUS,
  EEH_PE_DEVICE,
  EEH_RESET_DEACTIVATE,
  EEH_STATE_DMA_ACTIVE,
  EEH_STATE_DMA_ENABLED,
  EEH_STATE_MMIO_ACTIVE,
  EEH_STATE_MMIO_ENABLED,
  EEH_STATE_RESET_ACTIVE,
  type PciErsResult,
} from '../../src/kernel/eeh_consts.js';
import { EehDev, type EehPe } from '../../src/kernel/eeh_dev.js';
import type { EehNextError, EehOps } from '../../src/kernel/eeh_ops.js';
import { PciDev, type PciDriver, type PciErrorHandlers } from '../../src/kernel/pci.js';
import { PciSubsystem } from '../../src/kernel/pci_core.js';
import { sleep, type Task } from '../../src/sim/scheduler.js';
import { Sim } from '../../src/sim/sim.js';
import { ms } from '../../src/sim/time.js';
import { bdf, type PeNumber } from '../../src/uapi/ids.js';

export interface FakePeHw {
  mmioFrozen: boolean;
  dmaFrozen: boolean;
  reset: boolean;
  /** Thaw requests fail (the PE stays frozen). */
  stuck: boolean;
}

export class FakeOps implements EehOps {
  readonly name = 'powernv' as const;
  readonly probeModeDev = false;
  readonly hw = new Map<EehPe, FakePeHw>();
  readonly calls: string[] = [];
  nextErrors: EehNextError[] = [];

  hwOf(pe: EehPe): FakePeHw {
    let h = this.hw.get(pe);
    if (!h) {
      h = { mmioFrozen: false, dmaFrozen: false, reset: false, stuck: false };
      this.hw.set(pe, h);
    }
    return h;
  }

  freeze(pe: EehPe): void {
    const h = this.hwOf(pe);
    h.mmioFrozen = true;
    h.dmaFrozen = true;
  }

  *getState(pe: EehPe) {
    this.calls.push(`get_state ${pe.label}`);
    yield* sleep(430); // a firmware call takes time, so concurrent callers interleave
    const h = this.hwOf(pe);
    if (h.reset) return { state: EEH_STATE_RESET_ACTIVE, delayMs: 0 };
    let s = 0;
    if (!h.mmioFrozen) s |= EEH_STATE_MMIO_ACTIVE | EEH_STATE_MMIO_ENABLED;
    if (!h.dmaFrozen) s |= EEH_STATE_DMA_ACTIVE | EEH_STATE_DMA_ENABLED;
    return { state: s, delayMs: 0 };
  }

  *setOption(pe: EehPe, option: number) {
    this.calls.push(`set_option ${pe.label} ${option}`);
    const h = this.hwOf(pe);
    if (option === EEH_OPT_FREEZE_PE) this.freeze(pe);
    if (option === EEH_OPT_THAW_MMIO && !h.stuck) h.mmioFrozen = false;
    if (option === EEH_OPT_THAW_DMA && !h.stuck && !h.mmioFrozen) h.dmaFrozen = false;
    return 0;
  }

  *reset(pe: EehPe, option: number) {
    this.calls.push(`reset ${pe.label} ${option}`);
    const h = this.hwOf(pe);
    h.reset = option !== EEH_RESET_DEACTIVATE;
    yield* sleep(ms(option === EEH_RESET_DEACTIVATE ? 1800 : 250));
    return 0;
  }

  *configureBridge(pe: EehPe) {
    this.calls.push(`configure_bridge ${pe.label}`);
    return 0;
  }

  *getLog(pe: EehPe, severity: number) {
    this.calls.push(`get_log ${pe.label} ${severity}`);
  }

  *errInject(pe: EehPe, type: number, func: number) {
    this.calls.push(`err_inject ${pe.label} ${type} ${func}`);
    return 0;
  }

  *readConfig() {
    return 0xffff_ffff;
  }

  *writeConfig() {
    return 0;
  }

  *nextError(): Task<EehNextError> {
    return this.nextErrors.shift() ?? { kind: 'none' };
  }
}

/** A driver whose recovery behaviour is set per test. */
export function testDriver(
  name: string,
  handlers: PciErrorHandlers | undefined,
): PciDriver & {
  log: string[];
} {
  const log: string[] = [];
  return {
    name,
    log,
    errHandler: handlers,
    matches: () => true,
    *probe(pdev) {
      log.push(`probe ${pdev.bdf}`);
      return 0;
    },
    *remove(pdev) {
      log.push(`remove ${pdev.bdf}`);
    },
  };
}

export function fullHandlers(log: string[], onSlotReset: PciErsResult = 5): PciErrorHandlers {
  return {
    *errorDetected(_pdev, state) {
      log.push(`error_detected ${state}`);
      return 3; // NEED_RESET
    },
    *slotReset() {
      log.push('slot_reset');
      return onSlotReset;
    },
    *resume() {
      log.push('resume');
    },
  };
}

/** PHB 0 with a bus PE 1 holding device PE 2 (one device) - a small PE tree. */
export function makeCore(opts: { maxFreezes?: number } = {}) {
  const sim = new Sim({ seed: 1 });
  const ops = new FakeOps();
  const noMmio = {
    *read() {
      return 0;
    },
    *write() {},
  };
  const pci = new PciSubsystem(noMmio);
  const core = new EehCore(sim, ops, pci, { side: 'host', ...opts });
  core.addPhbPe(0);
  const busPe = core.addPe(EEH_PE_BUS, 0, 1 as PeNumber);
  const devPe = core.addPe(EEH_PE_DEVICE, 0, 2 as PeNumber, busPe);
  const pdev = new PciDev(0, bdf(1, 0, 0), 0x1014, 0x0001, false, [
    { index: 0, start: 0x1000_0000, size: 0x1000, is64: false },
  ]);
  pci.addDevice(pdev);
  const edev = new EehDev(pdev.bdf, pdev);
  core.attach(edev, devPe);
  core.events.start('host');
  return { sim, ops, pci, core, busPe, devPe, pdev, edev };
}
