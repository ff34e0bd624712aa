/** The firmware layer: OPAL calls over the hardware, returning OPAL codes. */
export * from './err_inject.js';
export * from './opal.js';
