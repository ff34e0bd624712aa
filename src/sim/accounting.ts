/**
 * Where virtual time went: charged cost per owner (host, vm0, ...), per layer
 * and per cost name, with occurrence counts.
 */
import type { CostName } from './costs.js';
import type { Layer } from './layers.js';
import type { Ns } from './time.js';

export interface CostTally {
  count: number;
  ns: Ns;
}

export class Accounting {
  /** owner -> layer -> tally */
  readonly byOwnerLayer = new Map<string, Map<Layer, CostTally>>();
  /** cost name -> tally (all owners) */
  readonly byCost = new Map<CostName, CostTally>();

  add(owner: string, layer: Layer, cost: CostName, ns: Ns, times: number): void {
    let layers = this.byOwnerLayer.get(owner);
    if (!layers) {
      layers = new Map();
      this.byOwnerLayer.set(owner, layers);
    }
    bump(layers, layer, ns, times);
    bump(this.byCost, cost, ns, times);
  }

  /** Total charged time for one owner, per layer, as a plain object. */
  layersOf(owner: string): Partial<Record<Layer, CostTally>> {
    return Object.fromEntries(this.byOwnerLayer.get(owner) ?? []);
  }

  count(cost: CostName): number {
    return this.byCost.get(cost)?.count ?? 0;
  }
}

function bump<K>(m: Map<K, CostTally>, k: K, ns: Ns, times: number): void {
  const t = m.get(k);
  if (t) {
    t.count += times;
    t.ns += ns * times;
  } else {
    m.set(k, { count: times, ns: ns * times });
  }
}
