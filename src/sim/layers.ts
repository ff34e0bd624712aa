/** The layers of the modelled stack, bottom to top (see docs/architecture). */
export const LAYERS = [
  'sim',
  'hw',
  'firmware',
  'host',
  'vfio',
  'kvm',
  'vmm',
  'guest',
  'design',
  'scenario',
] as const;
export type Layer = (typeof LAYERS)[number];
