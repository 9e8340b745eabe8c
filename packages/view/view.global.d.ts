/**
 * Types of `@mem/view/view.global.js`: the renderers as one classic script that defines the
 * global `MemView` (the same functions as `@mem/view/browser`).
 */
import type * as View from "./dist/browser.js";

declare global {
  /** `@mem/view`'s renderers, set by `view.global.js`. */
  var MemView: typeof View;
}

export {};
