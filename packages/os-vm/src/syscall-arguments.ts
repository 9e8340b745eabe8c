import { InvalidArgumentError } from "@mem/hardware";

/**
 * Refuses a system-call argument no register could hold: anything but a JavaScript number
 * (a BigInt, a string, null ...). Such a call is a mistake of the caller, not a call a
 * program could make, so it is an {@link InvalidArgumentError} (a `TypeError`) naming the call
 * and the argument, raised before anything changes, instead of a raw "Cannot mix BigInt".
 * Numbers, even absurd ones (NaN, fractions, negatives), go on to the kernel's own checks.
 */
export function checkRegisters(call: string, ...values: unknown[]): void {
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (typeof value !== "number") {
      const shown = typeof value === "string" ? `string ${JSON.stringify(value)}` : typeof value === "bigint" ? `bigint ${value.toString()}` : String(value);
      throw new InvalidArgumentError(`os-vm: ${call}: argument ${i + 1} must be a number, got ${shown}`);
    }
  }
}
