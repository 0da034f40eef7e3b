// Read the ErrorURL text Doris serves for a load that filtered rows (doris-stream-load.md §6): one
// entry per bad row, `Reason: <why>. src line [<line>]; `, the line being the raw row, the scanner's
// print of its values or empty, by the stage that refused it (refusal-match.ts matches them to rows).
// Pure; the fetch lives elsewhere.

export interface ErrorLogEntry {
  reason: string;
  /** The `src line`: the raw row, its values joined by spaces, or empty (see refusal-match.ts). */
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
