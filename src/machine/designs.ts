/**
 * The designs the machine can assemble, by scenario name (`design:` in a
 * scenario, `--design` on the command line): each one is a strategy object
 * for the layers' design hooks - the VMM's `EehWiring` (src/vmm/eeh_wiring.ts)
 * and, when a design changes how the guest reaches its PE, the guest
 * kernel's `opsFactory`. Layers never test which design runs; a new design
 * is one more entry here.
 */
import type { GuestSpec } from '../guest/index.js';
import { ScenarioError } from '../scenario/load.js';
import { DESIGNS, type DesignName, describeDesign } from '../scenario/schema/design.js';
import { type EehWiring, QEMU_INTERCEPT } from '../vmm/eeh_wiring.js';

export interface MachineDesign {
  readonly name: DesignName;
  readonly description: string;
  /** The VMM's wiring of guest EEH to the host PE. */
  wiring(): EehWiring;
  /** The guest kernel's platform ops (default: pseries over RTAS). */
  readonly guestOps?: GuestSpec['opsFactory'];
}

const REGISTRY = new Map<DesignName, MachineDesign>([
  [
    'd',
    {
      name: 'd',
      description: describeDesign('d'),
      wiring: () => QEMU_INTERCEPT,
    },
  ],
]);

/** Names of the designs the machine implements. */
export function implementedDesigns(): DesignName[] {
  return DESIGNS.filter((d) => REGISTRY.has(d));
}

/**
 * The design a scenario names. A design of the format that has no
 * implementation yet is a scenario error (exit 2 on the command line).
 */
export function designOf(name: DesignName, source = '<scenario>'): MachineDesign {
  const d = REGISTRY.get(name);
  if (d) return d;
  throw new ScenarioError(source, [
    {
      path: 'design',
      message: `design '${name}' is not implemented yet (implemented: ${implementedDesigns().join(', ')}; ${describeDesign(name)})`,
    },
  ]);
}
