// What the demo prints, as pure functions of what it sampled: numbers, bars, rates, the live panel
// (a terminal redraws it in place), the one-line form for logs and pipes, and the closing hints.
// No I/O here: scripts/demo/screen.ts writes, scripts/demo/sampler.ts measures.
import { stripVTControlCharacters } from 'node:util';

/** One reading of the stack, taken about once a second. */
export interface Snapshot {
  /** ms since the demo began producing. */
  t: number;
  produced: number;
  toProduce: number;
  /** Rows in the table (MariaDB behind the emulator). */
  rows: number;
  /** Valid events produced so far (every one becomes a row). */
  expectedRows: number;
  /** Messages in the dead-letter topic, and how many invalid events were produced. */
  dlq: number;
  expectedDlq: number;
  /** Consumer-group lag summed over the partitions (undefined until the group has committed). */
  lag?: number;
  lagPartitions?: number;
  /** The lag as the operator last saw it (status.lag.total), which drives scaling. */
  operatorLag?: number;
  replicas: ReplicaView;
}

export interface ReplicaView {
  desired?: number;
  ready?: number;
  min: number;
  max: number;
  /** Pod name → short state (Running, Pending, Terminating, ...). */
  pods: { name: string; state: string }[];
  /** The DorisSink's Ready condition, e.g. "True" or "False (NoSchema)". */
  sinkReady?: string;
}

export interface Sample {
  t: number;
  v: number;
}

const ESC = '\x1b[';

export interface Style {
  bold(s: string): string;
  dim(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
  red(s: string): string;
}

export function style(color: boolean): Style {
  const wrap = (code: string) => (s: string) => (color ? `${ESC}${code}m${s}${ESC}0m` : s);
  return { bold: wrap('1'), dim: wrap('2'), green: wrap('32'), yellow: wrap('33'), cyan: wrap('36'), red: wrap('31') };
}

/** The text without ANSI escapes (to measure or to log). */
export function stripAnsi(s: string): string {
  return stripVTControlCharacters(s);
}

/** 1234567 → "1,234,567". */
export function fmtInt(n: number): string {
  const sign = n < 0 ? '-' : '';
  const digits = String(Math.round(Math.abs(n)));
  return sign + digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** A rate per second: "0", "850", "12.3k", "1.20M". */
export function fmtRate(perSecond: number): string {
  const r = Math.max(0, perSecond);
  if (r < 1000) return String(Math.round(r));
  if (r < 100_000) return `${(r / 1000).toFixed(1)}k`;
  if (r < 1_000_000) return `${Math.round(r / 1000)}k`;
  return `${(r / 1_000_000).toFixed(2)}M`;
}

/** ms → "0:07", "2:05", "1:02:03". */
export function fmtElapsed(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** ms → "0.4 s", "12 s", "2 min 5 s". */
export function fmtDuration(ms: number): string {
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}

/** A progress bar of `width` cells for done/total (a full bar when total is 0). */
export function bar(done: number, total: number, width: number, ascii = false): string {
  const frac = total <= 0 ? 1 : Math.min(1, Math.max(0, done / total));
  const [full, empty, parts] = ascii ? ['#', '.', ['']] : ['█', '░', ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉']];
  const cells = frac * width;
  const whole = Math.floor(cells);
  const rest = width - whole;
  if (rest === 0) return full.repeat(width);
  const part = parts.length > 1 ? (parts[Math.floor((cells - whole) * parts.length)] ?? '') : '';
  return full.repeat(whole) + (part || empty) + empty.repeat(rest - 1);
}

/** Percentage with no decimals, capped at 100 unless really over. */
export function pct(done: number, total: number): string {
  if (total <= 0) return '100%';
  return `${Math.floor((100 * done) / total)}%`;
}

/**
 * Rate per second of a growing counter over the last `windowMs`: the change between the newest
 * sample and the oldest one still inside the window (0 with fewer than two samples).
 */
export function rate(samples: readonly Sample[], windowMs: number): number {
  const last = samples.at(-1);
  if (!last) return 0;
  let first: Sample | undefined;
  for (const s of samples) {
    if (last.t - s.t <= windowMs) {
      first = s;
      break;
    }
  }
  if (!first || last.t <= first.t) return 0;
  return ((last.v - first.v) * 1000) / (last.t - first.t);
}

/** Keeps the samples a window needs (and one older, so the window is always spanned). */
export function trim(samples: Sample[], windowMs: number): Sample[] {
  const last = samples.at(-1);
  if (!last) return samples;
  let i = 0;
  while (i + 1 < samples.length && last.t - (samples[i + 1] as Sample).t >= windowMs) i++;
  return samples.slice(i);
}

export interface Rates {
  /** Events produced per second (recent window). */
  produce: number;
  /** Rows loaded per second (recent window). */
  load: number;
  /** Highest `load` seen so far. */
  peakLoad: number;
}

export interface PanelHeader {
  sink: string;
  topic: string;
  partitions: number;
  table: string;
}

function replicasText(r: ReplicaView, st: Style): string {
  const ready = r.ready ?? 0;
  const desired = r.desired ?? ready;
  const dots = `${st.green('●'.repeat(Math.min(ready, r.max)))}${st.dim('○'.repeat(Math.max(0, r.max - Math.min(ready, r.max))))}`;
  const scaling =
    desired > ready
      ? st.yellow(` scaling up to ${desired}`)
      : desired < ready
        ? st.yellow(` scaling down to ${desired}`)
        : '';
  return `${dots}  ${ready} ready / ${desired} desired (min ${r.min}, max ${r.max})${scaling}`;
}

/** The live panel: a fixed number of lines, so a terminal can redraw it in place. */
export function panel(h: PanelHeader, s: Snapshot, r: Rates, opts: { color: boolean; width?: number }): string[] {
  const st = style(opts.color);
  const w = Math.max(10, Math.min(40, (opts.width ?? 100) - 60));
  const label = (l: string) => st.bold(l.padEnd(12));
  const producedDone = s.produced >= s.toProduce;
  const rowsDone = producedDone && s.rows >= s.expectedRows;
  const lag = s.lag === undefined ? st.dim('(no offsets committed yet)') : fmtInt(s.lag);
  const opLag = s.operatorLag === undefined ? '' : st.dim(`  operator sees ${fmtInt(s.operatorLag)}`);
  const pods = s.replicas.pods.map((p) => `${p.name.replace(/^.*-/, '')} ${p.state}`).join(', ');
  return [
    `${st.cyan('doris-sinker demo')}  ${st.dim(`DorisSink ${h.sink}: topic ${h.topic} (${h.partitions} partitions) → ${h.table}`)}   ${st.dim(fmtElapsed(s.t))}`,
    `${label('produced')}${(producedDone ? st.green : (x: string) => x)(bar(s.produced, s.toProduce, w))} ${pct(s.produced, s.toProduce).padStart(4)}  ${fmtInt(s.produced)} / ${fmtInt(s.toProduce)} events  ${fmtRate(r.produce)}/s`,
    `${label('loaded')}${(rowsDone ? st.green : (x: string) => x)(bar(s.rows, s.expectedRows, w))} ${pct(s.rows, s.expectedRows).padStart(4)}  ${fmtInt(s.rows)} / ${fmtInt(s.expectedRows)} rows  ${fmtRate(r.load)}/s (peak ${fmtRate(r.peakLoad)}/s)`,
    `${label('lag')}${lag} messages${s.lagPartitions ? st.dim(` on ${s.lagPartitions} partitions`) : ''}${opLag}`,
    `${label('dead letters')}${fmtInt(s.dlq)} / ${fmtInt(s.expectedDlq)} invalid events`,
    `${label('replicas')}${replicasText(s.replicas, st)}`,
    `${label('pods')}${st.dim(pods || '(none)')}`,
  ];
}

/** The same reading as one line, for output that is not a terminal. */
export function line(s: Snapshot, r: Rates): string {
  const parts = [
    `[${fmtElapsed(s.t)}]`,
    `produced ${fmtInt(s.produced)}/${fmtInt(s.toProduce)}`,
    `loaded ${fmtInt(s.rows)}/${fmtInt(s.expectedRows)} rows (${fmtRate(r.load)}/s)`,
    `lag ${s.lag === undefined ? '-' : fmtInt(s.lag)}`,
    `dlq ${fmtInt(s.dlq)}/${fmtInt(s.expectedDlq)}`,
    `replicas ${s.replicas.ready ?? 0}/${s.replicas.desired ?? s.replicas.ready ?? 0}`,
  ];
  return parts.join('  ');
}

/** Whether everything produced has arrived: every valid event a row, every invalid one dead-lettered. */
export function drained(s: Snapshot): boolean {
  return s.produced >= s.toProduce && s.rows >= s.expectedRows && s.dlq >= s.expectedDlq;
}

export interface Summary {
  events: number;
  rows: number;
  /** Messages in the DLQ, and the invalid events produced (the DLQ is written at least once). */
  dlq: number;
  invalid: number;
  produceMs: number;
  /** From the first event produced to the last row loaded. */
  loadMs: number;
  peakLoad: number;
  maxReplicas: number;
}

export function summary(s: Summary, color: boolean): string[] {
  const st = style(color);
  const avg = s.loadMs > 0 ? (s.rows * 1000) / s.loadMs : 0;
  return [
    st.green(
      `✔ ${fmtInt(s.rows)} rows loaded and ${fmtInt(s.invalid)} invalid events dead-lettered (${fmtInt(s.dlq)} DLQ messages), of ${fmtInt(s.events)} produced`,
    ),
    `  produced in ${fmtDuration(s.produceMs)}; all loaded ${fmtDuration(s.loadMs)} after the first event (${fmtRate(avg)} rows/s average, ${fmtRate(s.peakLoad)}/s peak); up to ${s.maxReplicas} sinker${s.maxReplicas === 1 ? '' : 's'}`,
  ];
}

export interface LookAround {
  kubectl: string;
  kubeconfig: string;
  namespace: string;
  sink: string;
  /** The first sinker pod and its metrics URL (hostNetwork: a port of this machine). */
  pod?: string;
  sinkerMetrics?: string;
  operatorMetrics: string;
  operatorDeployment: string;
  queryHost: string;
  queryPort: string;
  envFile: string;
  database: string;
  table: string;
  /** The command that re-runs the demo (npm run demo). */
  demo: string;
}

/** How to look around the running stack and how to stop it. */
export function lookAround(l: LookAround, color: boolean): string[] {
  const st = style(color);
  const k = `KUBECONFIG=${l.kubeconfig} ${l.kubectl} -n ${l.namespace}`;
  const sql = `SELECT event_type, COUNT(*) AS n, MAX(event_time) AS latest FROM ${l.table} GROUP BY event_type`;
  return [
    st.bold('Look around (the stack keeps running):'),
    `  ${st.dim('# the sink: ready, replicas, lag, schema')}`,
    `  ${k} get dorissinks -o wide`,
    `  ${k} get deploy,pods`,
    `  ${k} logs -l dorissinker.io/sink=${l.sink} --tail 20`,
    `  ${k} logs deploy/${l.operatorDeployment} --tail 20`,
    `  ${st.dim('# metrics')}`,
    ...(l.sinkerMetrics
      ? [
          `  curl -s ${l.sinkerMetrics} | grep -E '^(doris_rows_loaded|doris_stream_load|kafka_consumer_lag|dlq_messages)_?' | head -20 ${st.dim(`# sinker ${l.pod}`)}`,
        ]
      : []),
    `  curl -s ${l.operatorMetrics} | grep -v '^#' | head ${st.dim('# the operator')}`,
    `  ${st.dim('# the table, through the Doris emulator query port (MySQL protocol)')}`,
    `  MYSQL_PWD="$(sed -n 's/^DORIS_PASSWORD=//p' ${l.envFile})" mysql -h ${l.queryHost} -P ${l.queryPort} -u root ${l.database} -e '${sql}'`,
    st.bold('Stop:'),
    `  ${l.demo} -- --down   ${st.dim('# remove the demo (sink, operator, topic, table); the test bed keeps running')}`,
    `  test/infra/down         ${st.dim('# stop the test bed too (data stays; test/infra/up restarts it)')}`,
  ];
}
