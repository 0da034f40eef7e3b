// The table sink's refusals (OlapTableBlockConvertor) log an empty `src line []`: the row shows only
// in the reason, which names the column and describes the value. This reads such a reason into a
// test of a row's value. Forms (Doris 2.x on; the emulator writes them the same way):
//   column_name[c], the length of input is too long than schema. first 32 bytes of input str: [v…] schema length: N; actual length: L;
//   column_name[c], the length of input string is too long than vec schema. first 32 bytes of input str: [v…] schema length: N; limit length: M; actual length: L;
//   column_name[c], decimal value is not valid for definition, value=V, precision=P, scale=S, min=…, max=…;
// (older releases: `decimal value is not valid for definition, column=c, value=V, precision=P, scale=S`). Pure.

export interface SinkRefusal {
  /** Lower-case name of the column the reason names; undefined when it names none (any column may hold it). */
  column?: string;
  /** Whether a value (as the row carries it to that column; null = NULL) is the one the reason describes. */
  fits(value: string | null): boolean;
}

const COLUMN_PREFIX = /^column_name\[([^\]]*)\],\s*/;
const LENGTH_RE =
  /the length of input (?:string )?is too long than (?:vec )?schema\. first 32 bytes of input str: \[([\s\S]*)\] schema length: -?\d+; (?:limit length: \d+; )?actual length: (\d+);?\s*$/;
const DECIMAL_RE =
  /decimal value is not valid for definition, (?:column=([^,]*), )?value=([^,;\s]+), precision=(\d+), scale= ?(\d+)/;

/** The sink refusal a reason describes, or undefined when it is not one of the forms above. */
export function sinkRefusal(reason: string): SinkRefusal | undefined {
  const prefix = COLUMN_PREFIX.exec(reason);
  let column = prefix ? (prefix[1] as string).toLowerCase() : undefined;
  const len = LENGTH_RE.exec(reason);
  if (len) {
    const shown = len[1] as string;
    const bytes = Number(len[2]);
    return withColumn(column, (v) => v !== null && Buffer.byteLength(v) === bytes && samePrefix(v, shown));
  }
  const dec = DECIMAL_RE.exec(reason);
  if (dec) {
    if (!column && dec[1]) column = dec[1].trim().toLowerCase();
    const scale = Number(dec[4]);
    const want = decimalAtScale(dec[2] as string, scale);
    if (want === undefined) return undefined;
    return withColumn(column, (v) => v !== null && decimalAtScale(v, scale) === want);
  }
  return undefined;
}

function withColumn(column: string | undefined, fits: (v: string | null) => boolean): SinkRefusal {
  return column === undefined ? { fits } : { column, fits };
}

/**
 * Doris quotes the value's first 32 bytes, which may cut a character; the log reader decodes the cut
 * bytes as U+FFFD, as Buffer does here. Compared without trailing replacement characters, in case a
 * reader decoded the cut differently.
 */
function samePrefix(value: string, shown: string): boolean {
  const head = Buffer.from(value).subarray(0, 32).toString('utf8');
  return head === shown || head.replace(/\uFFFD+$/, '') === shown.replace(/\uFFFD+$/, '');
}

const DECIMAL_TEXT = /^\s*([+-])?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?\s*$/;

/**
 * A decimal text rounded half up to `scale` digits, as the cast to decimal(P, S) does, printed with
 * exactly `scale` digits: the value a decimal refusal prints, whatever spelling the row used
 * (`12.5`, `+012.50`, `1.25e1`). Undefined when the text is not a number.
 */
export function decimalAtScale(text: string, scale: number): string | undefined {
  const m = DECIMAL_TEXT.exec(text);
  if (!m) return undefined;
  let int = m[2] ?? '';
  let frac = m[3] ?? '';
  if (int === '' && frac === '') return undefined;
  const exp = m[4] ? Number(m[4]) : 0;
  if (Math.abs(exp) > 1000) return undefined;
  // Move the point by the exponent on the digits themselves (no float on the way).
  if (exp > 0) {
    const f = frac.padEnd(exp, '0');
    int += f.slice(0, exp);
    frac = f.slice(exp);
  } else if (exp < 0) {
    const i = int.padStart(-exp, '0');
    frac = i.slice(i.length + exp) + frac;
    int = i.slice(0, i.length + exp);
  }
  let digits = (int + frac.padEnd(scale, '0').slice(0, scale)).split('').map(Number);
  if (frac.length > scale && frac.charCodeAt(scale) >= 53) {
    let k = digits.length - 1;
    while (k >= 0 && digits[k] === 9) digits[k--] = 0;
    if (k >= 0) digits[k] = (digits[k] as number) + 1;
    else digits = [1, ...digits];
  }
  const all = digits.join('');
  const intPart = all.slice(0, all.length - scale).replace(/^0+/, '') || '0';
  const fracPart = all.slice(all.length - scale);
  const zero = /^0*$/.test(intPart + fracPart);
  return `${m[1] === '-' && !zero ? '-' : ''}${intPart}${scale > 0 ? `.${fracPart}` : ''}`;
}
