/**
 * The design under test: where the guest-address -> host-PE mapping lives
 * (the four options of the 2013 discussion, eeh-facts.md section 1), and
 * whether the host notifies the guest of a freeze asynchronously.
 *
 * Written `d` (upstream: the VMM intercepts every RTAS call), `a`, `b`, `c`,
 * optionally with `+notify`, e.g. `a+notify`.
 */
import { z } from 'zod';

export const DESIGN_MAPPINGS = {
  a: 'host kernel told the mapping (VFIO ioctl or KVM device attribute)',
  b: 'guest kernel told the mapping',
  c: 'identity mapping (guest addresses equal host addresses)',
  d: 'the VMM intercepts every RTAS call (upstream since 2014)',
} as const;
export type DesignMapping = keyof typeof DESIGN_MAPPINGS;

export const DESIGNS = [
  'd',
  'a',
  'b',
  'c',
  'd+notify',
  'a+notify',
  'b+notify',
  'c+notify',
] as const;
export type DesignName = (typeof DESIGNS)[number];

export const Design = z.enum(DESIGNS, {
  error: (iss) =>
    `unknown design '${String(iss.input)}' (known: ${DESIGNS.join(', ')}; see eehsim schema)`,
});

export interface DesignChoice {
  mapping: DesignMapping;
  /** The host notifies the guest of a freeze asynchronously. */
  notify: boolean;
}

export function parseDesign(name: DesignName): DesignChoice {
  const [mapping, extra] = name.split('+') as [DesignMapping, string | undefined];
  return { mapping, notify: extra === 'notify' };
}

export function describeDesign(name: DesignName): string {
  const { mapping, notify } = parseDesign(name);
  return `${name}: ${DESIGN_MAPPINGS[mapping]}${notify ? '; asynchronous freeze notification' : ''}`;
}
