// Read the ErrorURL text Doris serves for a load that filtered rows (doris-stream-load.md §6). The
// BE (RuntimeState::append_error_msg_to_file) writes one line of three forms at a time:
//   `Reason: <why>. src line [<line>]; `  one bad row; the line is the raw row, the scanner's print
//                                         of its values or empty, by the stage that refused it
//                                         (refusal-match.ts matches them to rows);
//   `Summary: <text>`                     a note about the load, naming no row;
//   `TOO MUCH ERROR! already reach 50. show no more next error.`  the log stops here: more rows
//                                         were refused than it names.
// A line longer than the BE's load_error_log_limit_bytes is cut there and ends in
// `error log is too long`: such a Reason still stands for one bad row, but its src line is lost.
// Pure; the fetch lives elsewhere.

export interface ErrorLogEntry {
  reason: string;
  /** The `src line`: the raw row, its values joined by spaces, or empty (see refusal-match.ts). */
  line: string;
  /** The entry was cut at the BE's size limit: one refused row, but which one it does not say. */
  truncated?: boolean;
}

export interface ErrorLog {
  entries: ErrorLogEntry[];
  /** The log says it stopped naming rows (`TOO MUCH ERROR!`). */
  cut: boolean;
  /** `Summary:` lines, for the logs. */
  summaries: string[];
}

const TOO_LONG = 'error log is too long';
// A new line starts each form. A reason may itself hold line breaks (the column-count reason prints
// the line delimiter, a partition reason dumps the tuple), but never one followed by a form's start.
const FORM_START = /\r?\n(?=Reason: |Summary: |TOO MUCH ERROR!)/;
// The raw row may hold any character, including "]" and "]; ": the src line runs to the last "]; "
// of its entry (rows hold no line delimiter, so an entry is one row).
const REASON_RE = /^Reason: ([\s\S]*?)\. src line \[([\s\S]*)\]; ?$/;

export function parseErrorLog(text: string): ErrorLog {
  const log: ErrorLog = { entries: [], cut: false, summaries: [] };
  for (const part of text.split(FORM_START)) {
    const chunk = part.replace(/(?:\r?\n)+$/, '');
    if (chunk.startsWith('Reason: ')) {
      const m = REASON_RE.exec(chunk);
      if (m) {
        log.entries.push({ reason: (m[1] ?? '').trim(), line: m[2] ?? '' });
        continue;
      }
      // Cut at the size limit (or a form this parser does not know): still one refused row.
      const body = chunk.slice('Reason: '.length);
      const end = body.indexOf('. src line [');
      const reason = (end >= 0 ? body.slice(0, end) : body.replace(new RegExp(`${TOO_LONG}$`), '')).trim();
      log.entries.push({ reason, line: '', truncated: true });
    } else if (chunk.startsWith('Summary: ')) log.summaries.push(chunk.slice('Summary: '.length).trim());
    else if (chunk.startsWith('TOO MUCH ERROR!')) log.cut = true;
    // Anything else (text before the first form, an HTML error page) names no row.
  }
  return log;
}
