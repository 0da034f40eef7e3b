// Read the ErrorURL text Doris serves for a load that filtered rows (doris-stream-load.md §6):
// one entry per bad row, `Reason: <why>. src line [<raw row>]; `. Pure; the fetch lives elsewhere.

export interface ErrorLogEntry {
  reason: string;
  /** The row as Doris saw it; empty when the entry has no `src line`. */
  line: string;
}

// The raw row may hold any character, including "]"; an entry ends at "]; " (or "];") followed by
// a newline or the end of the text, which a row of ours cannot produce (rows hold no line delimiter).
const ENTRY_RE = /Reason: ([\s\S]*?)\. src line \[([\s\S]*?)\]; ?(?=\r?\n|$)/g;

export function parseErrorLog(text: string): ErrorLogEntry[] {
  const out: ErrorLogEntry[] = [];
  for (const m of text.matchAll(ENTRY_RE)) {
    out.push({ reason: (m[1] ?? '').trim(), line: m[2] ?? '' });
  }
  return out;
}

export interface RowVerdicts {
  /** Index in the batch → Doris's reason, for each row an entry names. */
  bad: Map<number, string>;
  /** Entries whose line matched no row (reformatted or cut by Doris). */
  unmatched: ErrorLogEntry[];
}

/**
 * Find the rows an error log names. A row is bad when its text equals an entry's src line; every
 * copy of an identical row is bad (Doris judges content, not position).
 */
export function matchErrorLog(rows: readonly string[], entries: readonly ErrorLogEntry[]): RowVerdicts {
  const byLine = new Map<string, string>();
  for (const e of entries) if (!byLine.has(e.line)) byLine.set(e.line, e.reason);
  const bad = new Map<number, string>();
  const matchedLines = new Set<string>();
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i] as string;
    const reason = byLine.get(row);
    if (reason !== undefined) {
      bad.set(i, reason);
      matchedLines.add(row);
    }
  }
  const unmatched = entries.filter((e) => !matchedLines.has(e.line));
  return { bad, unmatched };
}
