// The `columns` header (source column list with `col = expr` mappings) and a simple `where` filter.
// Supported expressions: a source column, a literal, NULL, now()/current_timestamp(). `where` supports
// comparisons (= != <> < <= > >=), IS [NOT] NULL, IN (...), AND, OR, NOT and parentheses.

export type Expr =
  | { kind: 'col'; name: string }
  | { kind: 'lit'; value: string | null }
  | { kind: 'now' }
  | { kind: 'cmp'; op: string; left: Expr; right: Expr }
  | { kind: 'isnull'; not: boolean; arg: Expr }
  | { kind: 'in'; not: boolean; arg: Expr; list: Expr[] }
  | { kind: 'and' | 'or'; left: Expr; right: Expr }
  | { kind: 'not'; arg: Expr };

export interface ColumnMapping {
  /** Source columns in order (CSV field i / JSON key). */
  sources: string[];
  /** Target column name (lower case) → expression over sources. */
  derived: Map<string, Expr>;
}

type Tok = { t: 'id' | 'str' | 'num' | 'op' | 'punct'; v: string };

function lex(text: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === "'" || c === '"') {
      let j = i + 1;
      let v = '';
      while (j < text.length && text[j] !== c) {
        if (text[j] === '\\' && j + 1 < text.length) j++;
        v += text[j];
        j++;
      }
      if (j >= text.length) throw new Error(`unterminated string in "${text}"`);
      out.push({ t: 'str', v });
      i = j + 1;
    } else if (c === '`') {
      const j = text.indexOf('`', i + 1);
      if (j < 0) throw new Error(`unterminated \` in "${text}"`);
      out.push({ t: 'id', v: text.slice(i + 1, j) });
      i = j + 1;
    } else if (/[0-9]/.test(c) || (c === '-' && /[0-9]/.test(text[i + 1] ?? ''))) {
      const m = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i))!;
      out.push({ t: 'num', v: m[0] });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i))!;
      out.push({ t: 'id', v: m[0] });
      i += m[0].length;
    } else if ('<>!='.includes(c)) {
      const two = text.slice(i, i + 2);
      const op = ['<=', '>=', '<>', '!='].includes(two) ? two : c;
      out.push({ t: 'op', v: op });
      i += op.length;
    } else if ('(),'.includes(c)) {
      out.push({ t: 'punct', v: c });
      i++;
    } else {
      throw new Error(`unexpected "${c}" in "${text}"`);
    }
  }
  return out;
}

class ExprParser {
  private i = 0;
  private readonly toks: Tok[];
  private readonly text: string;
  constructor(toks: Tok[], text: string) {
    this.toks = toks;
    this.text = text;
  }
  private peek(): Tok | undefined {
    return this.toks[this.i];
  }
  private kw(word: string): boolean {
    const t = this.peek();
    if (t?.t === 'id' && t.v.toUpperCase() === word) {
      this.i++;
      return true;
    }
    return false;
  }
  private punct(v: string): boolean {
    const t = this.peek();
    if (t?.t === 'punct' && t.v === v) {
      this.i++;
      return true;
    }
    return false;
  }
  done(): boolean {
    return this.i >= this.toks.length;
  }
  fail(msg: string): never {
    throw new Error(`${msg} in "${this.text}"`);
  }
  or(): Expr {
    let left = this.and();
    while (this.kw('OR')) left = { kind: 'or', left, right: this.and() };
    return left;
  }
  and(): Expr {
    let left = this.not();
    while (this.kw('AND')) left = { kind: 'and', left, right: this.not() };
    return left;
  }
  not(): Expr {
    if (this.kw('NOT')) return { kind: 'not', arg: this.not() };
    return this.cmp();
  }
  cmp(): Expr {
    const left = this.primary();
    const t = this.peek();
    if (t?.t === 'op') {
      this.i++;
      return { kind: 'cmp', op: t.v === '!=' ? '<>' : t.v, left, right: this.primary() };
    }
    if (this.kw('IS')) {
      const not = this.kw('NOT');
      if (!this.kw('NULL')) this.fail('expected NULL after IS');
      return { kind: 'isnull', not, arg: left };
    }
    const save = this.i;
    const not = this.kw('NOT');
    if (this.kw('IN')) {
      if (!this.punct('(')) this.fail('expected ( after IN');
      const list: Expr[] = [];
      do list.push(this.primary());
      while (this.punct(','));
      if (!this.punct(')')) this.fail('expected ) after IN list');
      return { kind: 'in', not, arg: left, list };
    }
    this.i = save;
    return left;
  }
  primary(): Expr {
    const t = this.peek();
    if (!t) this.fail('unexpected end');
    this.i++;
    if (t.t === 'str' || t.t === 'num') return { kind: 'lit', value: t.v };
    if (t.t === 'punct' && t.v === '(') {
      const e = this.or();
      if (!this.punct(')')) this.fail('expected )');
      return e;
    }
    if (t.t === 'id') {
      const up = t.v.toUpperCase();
      if (up === 'NULL') return { kind: 'lit', value: null };
      if (up === 'TRUE' || up === 'FALSE') return { kind: 'lit', value: up === 'TRUE' ? '1' : '0' };
      if (this.punct('(')) {
        if (!this.punct(')')) this.fail(`unsupported function arguments for ${t.v}`);
        if (up === 'NOW' || up === 'CURRENT_TIMESTAMP') return { kind: 'now' };
        this.fail(`unsupported function ${t.v}()`);
      }
      if (up === 'CURRENT_TIMESTAMP') return { kind: 'now' };
      return { kind: 'col', name: t.v };
    }
    this.fail(`unexpected "${t.v}"`);
  }
}

export function parseExpr(text: string): Expr {
  const p = new ExprParser(lex(text), text);
  const e = p.or();
  if (!p.done()) p.fail('trailing input');
  return e;
}

/** Splits on commas outside quotes and parentheses. */
function splitTop(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote = '';
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = '';
    } else if (c === "'" || c === '"' || c === '`') quote = c;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out.map((s) => s.trim()).filter((s) => s.length > 0);
}

/** Parses the `columns` header: `k1, k2, tmp, k3 = tmp, k4 = now()`. */
export function parseColumns(text: string): ColumnMapping {
  const sources: string[] = [];
  const derived = new Map<string, Expr>();
  for (const item of splitTop(text)) {
    const eq = /^`?([A-Za-z_][A-Za-z0-9_]*)`?\s*=(.*)$/s.exec(item);
    if (eq) {
      derived.set(eq[1]!.toLowerCase(), parseExpr(eq[2]!));
    } else {
      const name = item.replace(/^`|`$/g, '');
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`bad column name "${item}" in columns`);
      sources.push(name);
    }
  }
  return { sources, derived };
}

export type Lookup = (name: string) => string | null | undefined;

function nowText(): string {
  return new Date().toISOString().slice(0, 23).replace('T', ' ');
}

/** Evaluates a value expression (columns mapping). */
export function evalValue(e: Expr, get: Lookup): string | null {
  switch (e.kind) {
    case 'col':
      return get(e.name) ?? null;
    case 'lit':
      return e.value;
    case 'now':
      return nowText();
    default:
      return evalBool(e, get) ? '1' : '0';
  }
}

function compare(a: string, b: string): number {
  const na = Number(a);
  const nb = Number(b);
  if (a.trim() !== '' && b.trim() !== '' && !Number.isNaN(na) && !Number.isNaN(nb)) return na - nb;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Evaluates a `where` predicate; a comparison with NULL is false (SQL three-valued logic collapsed). */
export function evalBool(e: Expr, get: Lookup): boolean {
  switch (e.kind) {
    case 'and':
      return evalBool(e.left, get) && evalBool(e.right, get);
    case 'or':
      return evalBool(e.left, get) || evalBool(e.right, get);
    case 'not':
      return !evalBool(e.arg, get);
    case 'isnull':
      return (evalValue(e.arg, get) === null) !== e.not;
    case 'in': {
      const v = evalValue(e.arg, get);
      if (v === null) return false;
      const hit = e.list.some((x) => {
        const w = evalValue(x, get);
        return w !== null && compare(v, w) === 0;
      });
      return hit !== e.not;
    }
    case 'cmp': {
      const a = evalValue(e.left, get);
      const b = evalValue(e.right, get);
      if (a === null || b === null) return false;
      const c = compare(a, b);
      switch (e.op) {
        case '=':
          return c === 0;
        case '<>':
          return c !== 0;
        case '<':
          return c < 0;
        case '<=':
          return c <= 0;
        case '>':
          return c > 0;
        default:
          return c >= 0;
      }
    }
    default: {
      const v = evalValue(e, get);
      return v !== null && v !== '0' && v !== '';
    }
  }
}
