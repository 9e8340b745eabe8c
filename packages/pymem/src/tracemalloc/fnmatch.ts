/**
 * Python's `fnmatch.fnmatch(name, pattern)` on POSIX (`normcase` is the identity): `*`, `?`,
 * `[seq]`, `[!seq]`, matched against the whole name, with `*` crossing `/`.
 */

const cache = new Map<string, RegExp>();

/** `fnmatch.translate(pattern)` as a JavaScript regular expression. */
export function translate(pattern: string): RegExp {
  let re = "";
  let i = 0;
  const n = pattern.length;
  while (i < n) {
    const c = pattern[i++]!;
    if (c === "*") {
      re += "[\\s\\S]*";
      while (pattern[i] === "*") i++;
    } else if (c === "?") {
      re += "[\\s\\S]";
    } else if (c === "[") {
      let j = i;
      if (pattern[j] === "!") j++;
      if (pattern[j] === "]") j++;
      while (j < n && pattern[j] !== "]") j++;
      if (j >= n) {
        re += "\\[";
      } else {
        let stuff = pattern.slice(i, j).replaceAll("\\", "\\\\");
        i = j + 1;
        if (stuff.startsWith("!")) stuff = "^" + stuff.slice(1);
        else if (stuff.startsWith("^")) stuff = "\\" + stuff;
        re += `[${stuff.replaceAll("]", "\\]")}]`;
      }
    } else {
      re += c.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
    }
  }
  return new RegExp(`^(?:${re})$`, "u");
}

/** `fnmatch.fnmatch(name, pattern)`. */
export function fnmatch(name: string, pattern: string): boolean {
  let re = cache.get(pattern);
  if (re === undefined) {
    re = translate(pattern);
    cache.set(pattern, re);
  }
  return re.test(name);
}
