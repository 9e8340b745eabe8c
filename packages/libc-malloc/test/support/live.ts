/** The glibc version the simulator reproduces and the recordings were made with. */
export const GLIBC_MODEL = "2.36";
