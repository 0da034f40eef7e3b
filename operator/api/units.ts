// Durations ("1h30m") and byte quantities ("16Mi") as the DorisSink spec writes them, converted to the
// seconds and bytes the sinker config uses. Errors name the field so a status message can point at it.

const DURATION_UNIT_SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };

/** Seconds in a Go-style duration. Throws naming `field` when the text is not one. */
export function parseDuration(text: string, field: string): number {
  const re = /([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/y;
  let total = 0;
  let pos = 0;
  while (pos < text.length) {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) break;
    total += Number(m[1]) * (DURATION_UNIT_SECONDS[m[2] as string] as number);
    pos = re.lastIndex;
  }
  if (text.length === 0 || pos !== text.length) {
    throw new Error(`${field}: ${JSON.stringify(text)} is not a duration (use e.g. "30s", "5m", "1h30m")`);
  }
  return total;
}

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = { '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

/** Bytes in an integer or a resource.Quantity string ("64Mi", "1G", "1e6"); rounded up to a whole byte. */
export function parseBytes(value: number | string, field: string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new Error(`${field}: ${value} is not a byte count`);
    return Math.ceil(value);
  }
  const m = /^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$/.exec(value.trim());
  if (!m) throw new Error(`${field}: ${JSON.stringify(value)} is not a byte quantity (use e.g. 1048576 or "16Mi")`);
  const n = Number(m[1]);
  const suffix = m[2] ?? '';
  let factor: number;
  if (suffix in BINARY) factor = BINARY[suffix] as number;
  else if (suffix in DECIMAL) factor = DECIMAL[suffix] as number;
  else factor = 10 ** Number(suffix.slice(1));
  return Math.ceil(n * factor);
}
