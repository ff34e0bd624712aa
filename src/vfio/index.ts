/** VFIO: container / group / device fds over the host kernel (see ./vfio.ts, ./backend.ts). */

export * from '../host/vfio_backend.js';
export { DEFAULT_PCI_ARCH, type VfioArchDevice, type VfioPciArch } from './arch.js';
export { VfioContainer, VfioContainerFile } from './container.js';
export { type IrqType, VfioDeviceFile, VfioPciDevice } from './device.js';
export { type AddrMappingEntry, PowernvAddrMapping } from './experimental_addr_mapping.js';
export { ioctlName, type VfioFileKind } from './file.js';
export { VfioGroup, VfioGroupFile } from './group.js';
export { type VfioEehTarget, vfioFileEehPe, vfioFileEehPeByAddr } from './kvm_export.js';
export { HOST_PAGE_SIZE, TceIommu, tceCheckExtension } from './spapr_tce.js';
export { VFIO_DEV_DIR, Vfio, type VfioSnapshot } from './vfio.js';
