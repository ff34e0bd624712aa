/**
 * What differs between the PHB generations eehsim models.
 * cf. skiboot include/phb3.h (PHB3_MAX_PE_NUM 256, PHB3_RESERVED_PE_NUM 255),
 * hw/phb4.c (512 PEs, reserved PE = last), hw/phb3.c phb3_err_inject (config,
 * MMIO and DMA injection) and hw/phb4.c phb4_err_inject_mem32/mem64/dma
 * (OPAL_UNSUPPORTED: PHB4 injects config errors only).
 */
import { OPAL_PHB_ERROR_DATA_TYPE_PHB3, OPAL_PHB_ERROR_DATA_TYPE_PHB4 } from '../uapi/opal.js';

export const PHB_MODEL_NAMES = ['phb3', 'phb4'] as const;
export type PhbModel = (typeof PHB_MODEL_NAMES)[number];

export interface PhbModelInfo {
  /** PE numbers 0 .. maxPe - 1 exist. */
  readonly maxPe: number;
  /** Where unassigned requester IDs point; firmware keeps it for itself. */
  readonly reservedPe: number;
  /** ioType of the diag data (OPAL_PHB_ERROR_DATA_TYPE_*). */
  readonly diagIoType: number;
  /** Error injection the hardware can do. */
  readonly injects: readonly ('config' | 'mmio' | 'dma')[];
}

export const PHB_MODELS: Readonly<Record<PhbModel, PhbModelInfo>> = {
  phb3: {
    maxPe: 256,
    reservedPe: 255,
    diagIoType: OPAL_PHB_ERROR_DATA_TYPE_PHB3,
    injects: ['config', 'mmio', 'dma'],
  },
  phb4: {
    maxPe: 512,
    reservedPe: 511,
    diagIoType: OPAL_PHB_ERROR_DATA_TYPE_PHB4,
    injects: ['config'],
  },
};

export function isPhbModel(s: string): s is PhbModel {
  return (PHB_MODEL_NAMES as readonly string[]).includes(s);
}
