/**
 * arch/powerpc/include/uapi/asm/eeh.h: PE states and the error types and
 * functions of `struct vfio_eeh_pe_err` (VFIO_EEH_PE_INJECT_ERR).
 *
 * powerpc-only header: test/uapi/abi.test.ts checks every export against it
 * (package linux-libc-dev-ppc64el-cross).
 *
 * Note: a 2025 patch series for guest error injection through RTAS
 * (ibm,errinjct) proposes renumbering EEH_ERR_TYPE_32/64 to the PAPR
 * errinjct token values 0x7/0xF; released kernels (and the installed header)
 * have 0/1. The PAPR values are in ./rtas.ts (RTAS_ERR_TYPE_*).
 */

/** PE states, as VFIO_EEH_PE_GET_STATE returns them. */
export const EEH_PE_STATE_NORMAL = 0;
export const EEH_PE_STATE_RESET = 1;
export const EEH_PE_STATE_STOPPED_IO_DMA = 2;
export const EEH_PE_STATE_STOPPED_DMA = 4;
export const EEH_PE_STATE_UNAVAIL = 5;

/** vfio_eeh_pe_err.type: 32- or 64-bit IOA bus error (powernv accepts only these). */
export const EEH_ERR_TYPE_32 = 0;
export const EEH_ERR_TYPE_64 = 1;

/** vfio_eeh_pe_err.func: where the error is injected. */
export const EEH_ERR_FUNC_MIN = 0;
export const EEH_ERR_FUNC_LD_MEM_ADDR = 0;
export const EEH_ERR_FUNC_LD_MEM_DATA = 1;
export const EEH_ERR_FUNC_LD_IO_ADDR = 2;
export const EEH_ERR_FUNC_LD_IO_DATA = 3;
export const EEH_ERR_FUNC_LD_CFG_ADDR = 4;
export const EEH_ERR_FUNC_LD_CFG_DATA = 5;
export const EEH_ERR_FUNC_ST_MEM_ADDR = 6;
export const EEH_ERR_FUNC_ST_MEM_DATA = 7;
export const EEH_ERR_FUNC_ST_IO_ADDR = 8;
export const EEH_ERR_FUNC_ST_IO_DATA = 9;
export const EEH_ERR_FUNC_ST_CFG_ADDR = 10;
export const EEH_ERR_FUNC_ST_CFG_DATA = 11;
export const EEH_ERR_FUNC_DMA_RD_ADDR = 12;
export const EEH_ERR_FUNC_DMA_RD_DATA = 13;
export const EEH_ERR_FUNC_DMA_RD_MASTER = 14;
export const EEH_ERR_FUNC_DMA_RD_TARGET = 15;
export const EEH_ERR_FUNC_DMA_WR_ADDR = 16;
export const EEH_ERR_FUNC_DMA_WR_DATA = 17;
export const EEH_ERR_FUNC_DMA_WR_MASTER = 18;
export const EEH_ERR_FUNC_DMA_WR_TARGET = 19;
export const EEH_ERR_FUNC_MAX = 19;
