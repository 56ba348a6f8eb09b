/**
 * The CLI's version: the package's (a test keeps the two equal).
 *
 * @module
 */

/** The version `sprig --version` prints. */
export const VERSION = "0.1.0";
