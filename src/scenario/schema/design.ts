/**
 * The design under test: where the guest-address -> host-PE mapping lives
 * (the four options of the 2013 discussion, eeh-facts.md section 1), and
 * whether the host notifies the guest of a freeze asynchronously.
 *
 * Written `d` (upstream: the VMM intercepts every RTAS call), `a`, `b`, `c`,
 * optionally with `+notify`, e.g. `a+notify` (the host notifies, the
 * guest still checks every all-1s read) or `+notify-only` (the guest trusts
 * the notification and skips the check). Option (a) has variants
 * (`a-realmode`, `a-vfio`): where the in-kernel handler runs and where the
 * VMM registers the mapping.
 *
 * `aer` is not an EEH design but the reference point: an x86-like host
 * (no PE isolation; the error is reported by PCIe AER, vfio-pci signals the
 * VMM's error eventfd and the VMM stops the VM, eeh-facts.md section 6).
 */
import { z } from 'zod';

export const DESIGN_MAPPINGS = {
  a: 'host kernel told the mapping (VFIO ioctl or KVM device attribute)',
  b: 'guest kernel told the mapping',
  c: 'identity mapping (guest addresses equal host addresses)',
  d: 'the VMM intercepts every RTAS call (upstream since 2014)',
  aer: 'no EEH (x86-like baseline): AER reports the error, vfio-pci signals the error eventfd, the VMM stops the VM',
} as const;
export type DesignMapping = keyof typeof DESIGN_MAPPINGS;

/** Variants of option (a): how the host kernel is told the mapping and where it answers. */
export const DESIGN_VARIANTS = {
  '': '',
  realmode: 'answered in KVM real mode',
  vfio: 'mapping told to VFIO (VFIO_DEVICE_SET_ADDR_MAPPING), answered in KVM',
} as const;
export type DesignVariant = keyof typeof DESIGN_VARIANTS;

export const DESIGNS = [
  'd',
  'a',
  'a-realmode',
  'a-vfio',
  'b',
  'c',
  'd+notify',
  'a+notify',
  'b+notify',
  'c+notify',
  'd+notify-only',
  'a+notify-only',
  'a-realmode+notify',
  'a-realmode+notify-only',
  'a-vfio+notify',
  'a-vfio+notify-only',
  'b+notify-only',
  'c+notify-only',
  'aer',
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
  /** `+notify-only`: the guest trusts the notification (no state query on all-1s reads); omitted otherwise. */
  notifyOnly?: true;
  /** Variant of the mapping (`a-realmode` -> `realmode`); omitted for none. */
  variant?: Exclude<DesignVariant, ''>;
}

export function parseDesign(name: DesignName): DesignChoice {
  const [base, extra] = name.split('+') as [string, string | undefined];
  const [mapping, variant] = base.split('-') as [DesignMapping, DesignVariant | undefined];
  const out: DesignChoice = { mapping, notify: extra === 'notify' || extra === 'notify-only' };
  if (extra === 'notify-only') out.notifyOnly = true;
  if (variant) out.variant = variant as Exclude<DesignVariant, ''>;
  return out;
}

export function describeDesign(name: DesignName): string {
  const { mapping, notify, notifyOnly, variant } = parseDesign(name);
  const v = variant ? ` - ${DESIGN_VARIANTS[variant]}` : '';
  const n = notifyOnly
    ? '; asynchronous freeze notification, trusted (no state query on all-1s reads)'
    : notify
      ? '; asynchronous freeze notification'
      : '';
  return `${name}: ${DESIGN_MAPPINGS[mapping]}${v}${n}`;
}
